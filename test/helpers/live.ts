import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

/** A real graphql-ws client (graphql-ws `createClient` on `ws`), and what it saw of its socket. */
export interface LiveClient {
  client: Client;
  /** Close events of the client's sockets, in order. */
  closes: Array<{ code: number; reason: string }>;
  /** The client's current `ws` socket (tests pause its underlying TCP socket). */
  socket: () => WebSocket | null;
  dispose(): Promise<void>;
}

/** One subscription's results. */
export interface LiveStream<T = any> {
  items: T[];
  errors: unknown[];
  completed: boolean;
  /** Settles when the subscription completes or errors. */
  done: Promise<void>;
  stop(): void;
}

const clients = new Set<LiveClient>();

/** The graphql-ws URL of a test app's base URL. */
export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, "ws")}/graphql`;
}

/** Opens a client on `httpUrl` with `connection_init` `{ apiKey }`; no retries unless asked. Registered for teardown. */
export function liveClient(httpUrl: string, apiKey: string | null, options: { retryAttempts?: number } = {}): LiveClient {
  const closes: LiveClient["closes"] = [];
  let current: WebSocket | null = null;
  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    connectionParams: apiKey === null ? {} : { apiKey },
    retryAttempts: options.retryAttempts ?? 0,
    retryWait: () => new Promise((r) => setTimeout(r, 50)),
    shouldRetry: () => true,
    on: {
      connected: (socket) => void (current = socket as WebSocket),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        closes.push({ code: e.code, reason: String(e.reason) });
      },
    },
  });
  const live: LiveClient = {
    client,
    closes,
    socket: () => current,
    async dispose() {
      clients.delete(live);
      await client.dispose();
    },
  };
  clients.add(live);
  return live;
}

/** Subscribes and collects `next` payloads' `data[field]` (and errors). */
export function collect<T = any>(live: LiveClient, query: string, variables: Record<string, unknown> = {}, field?: string): LiveStream<T> {
  const stream: LiveStream<T> = { items: [], errors: [], completed: false, done: Promise.resolve(), stop: () => {} };
  stream.done = new Promise<void>((resolve) => {
    stream.stop = live.client.subscribe<Record<string, T>>(
      { query, variables },
      {
        next: (value) => {
          if (value.errors) stream.errors.push(...value.errors);
          if (value.data) stream.items.push(field ? value.data[field] : (Object.values(value.data)[0] as T));
        },
        error: (error) => {
          stream.errors.push(error);
          resolve();
        },
        complete: () => {
          stream.completed = true;
          resolve();
        },
      },
    );
  });
  return stream;
}

/** Disposes every client a test opened. */
export async function disposeLiveClients(): Promise<void> {
  await Promise.all([...clients].map((c) => c.dispose().catch(() => {})));
}
