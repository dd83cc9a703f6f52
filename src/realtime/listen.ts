import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { generateSigningSecret, signedHeaders } from "../delivery/sign.js";
import { USER_AGENT } from "../delivery/http-client.js";
import { envelopeOf, type EnvelopeParts } from "../events/envelope.js";

/** Options of `hookcast listen`. */
export interface ListenOptions {
  /** Hookcast's base URL, e.g. `http://localhost:4000`. */
  url: string;
  apiKey: string;
  /** Where each event is POSTed, e.g. `http://localhost:3000/hook`. */
  forwardTo: string;
  /** Only these event types (default: all). */
  events?: string[];
  /** Signing secret (`whsec_…`); default: a new one, printed at start. */
  secret?: string;
  /** Start after this cursor instead of live from now. */
  after?: string;
  /** Per-request timeout of a forward, ms [15,000]. */
  timeoutMs?: number;
  /** Where lines go [stdout]. */
  print?: (line: string) => void;
}

/** A running listener. */
export interface Listener {
  readonly secret: string;
  /** Resolves when the stream ends for good (bad key, refused); rejects with its reason. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

const QUERY = `subscription Listen($types: [String!], $after: String) {
  events(types: $types, after: $after) { id cursor type source sequence occurredAt listId tag data }
}`;

/** An event as the subscription streams it: the parts of its webhook envelope. */
type StreamedEvent = EnvelopeParts;

/**
 * `hookcast listen` (like the Stripe CLI's): subscribes to the account's events over graphql-ws
 * and POSTs each one, signed like a webhook (Standard Webhooks; `webhook-id` is the event id),
 * to a local URL, in order, one printed line per event. After a dropped connection it
 * reconnects and resumes after the last event it received, so nothing is skipped or repeated.
 * A forward that fails is printed and not retried (this is a development tool).
 */
export function listen(options: ListenOptions): Listener {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const secret = options.secret ?? generateSigningSecret();
  signedHeaders(secret, "probe", "", new Date()); // a malformed --secret fails here, at start
  const wsUrl = `${options.url.replace(/\/+$/, "").replace(/^http/, "ws")}/graphql`;
  // graphql-ws sends this same object again on every reconnect: keeping `after` current in it
  // is what makes a reconnect resume after the last event received.
  const variables: { types: string[] | null; after: string | null } = { types: options.events?.length ? options.events : null, after: options.after ?? null };
  let queue = Promise.resolve();
  let fatal: Error | null = null;

  const client: Client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { apiKey: options.apiKey },
    retryAttempts: Infinity,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 5_000))),
    // A bad key (4403) or the connection cap (4429) will not fix itself: stop.
    shouldRetry: (event) => !(typeof event === "object" && event !== null && [4403, 4429].includes((event as { code?: number }).code ?? 0)),
    keepAlive: 10_000,
    on: {
      connected: () => print(`connected to ${wsUrl}${variables.after ? " (resuming after the last event)" : ""}`),
      closed: (event) => {
        const { code, reason } = event as { code?: number; reason?: string };
        if (code === 4403) fatal = new Error("the API key was refused (4403)");
        else if (code === 4429) fatal = new Error("too many connections for this account (4429)");
        else print(`disconnected (${code ?? "?"}${reason ? ` ${reason}` : ""}); reconnecting`);
      },
    },
  });

  const forward = async (event: StreamedEvent) => {
    const body = JSON.stringify(envelopeOf(event));
    const started = Date.now();
    try {
      const res = await fetch(options.forwardTo, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...signedHeaders(secret, event.id, body, new Date()) },
        body,
        // Like a webhook: a 3xx is the receiver's answer, never followed.
        redirect: "manual",
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      print(`${event.occurredAt}  ${event.type}  ${event.id}  → ${res.status} (${Date.now() - started} ms)`);
    } catch (error) {
      print(`${event.occurredAt}  ${event.type}  ${event.id}  → failed: ${(error as Error).message}`);
    }
  };

  const done = new Promise<void>((resolve, reject) => {
    client.subscribe<{ events: StreamedEvent }>(
      { query: QUERY, variables },
      {
        next: (result) => {
          if (result.errors?.length) {
            fatal = new Error(result.errors.map((e) => e.message).join("; "));
            return;
          }
          const event = result.data?.events;
          if (!event) return;
          variables.after = event.cursor;
          queue = queue.then(() => forward(event));
        },
        error: (error) => {
          void queue.then(() => reject(fatal ?? (error instanceof Error ? error : new Error(describe(error)))));
        },
        complete: () => void queue.then(() => (fatal ? reject(fatal) : resolve())),
      },
    );
  });

  print(`forwarding ${variables.types ? variables.types.join(", ") : "all events"} to ${options.forwardTo}`);
  print(`signing secret: ${secret}  (verify with any Standard Webhooks library)`);
  return {
    secret,
    done,
    async stop() {
      await client.dispose();
      await queue;
    },
  };
}

function describe(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error) return `connection closed (${(error as { code: number }).code})`;
  if (Array.isArray(error)) return error.map((e) => (e as { message?: string }).message ?? String(e)).join("; ");
  return String(error);
}
