/**
 * Websocket clients of the bench (L2 and case 5), run as their own process. IPC in:
 * - `{ type: "connect", id, url, count, mode: "raw" | "graphql-ws", apiKey?, query? }`: opens
 *   `count` connections (graphql-ws ones subscribe with `query`); answers once all are open (and
 *   subscribed: graphql-ws gives no ack per subscription, so a short settle follows).
 * - `{ type: "await", id, total, timeoutMs }`: answers once `total` messages have arrived in all
 *   (or on timeout) with `{ received, first, last, errors }`, wall-clock ms of the first and
 *   last message.
 * - `{ type: "count", id }`: answers `{ received, errors }` at once.
 * - `{ type: "close", id }`.
 * Every message is parsed as JSON on both paths, as a real client would.
 */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

const wallNow = () => performance.timeOrigin + performance.now();

let received = 0;
let first = 0;
let last = 0;
let errors = 0;
let lastError = "";
const raws: WebSocket[] = [];
const gqls: Client[] = [];

function count(): void {
  const now = wallNow();
  if (received === 0) first = now;
  last = now;
  received++;
}

function connectRaw(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("open", () => resolve());
    ws.on("error", (e) => {
      errors++;
      lastError = String(e);
      reject(e);
    });
    ws.on("message", (data) => {
      JSON.parse(data.toString());
      count();
    });
    raws.push(ws);
  });
}

function connectGraphqlWs(url: string, apiKey: string, query: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { apiKey },
      lazy: false,
      retryAttempts: 0,
      on: {
        connected: () => resolve(),
        closed: (event) => {
          const e = event as { code?: number; reason?: string };
          lastError = `closed ${e.code ?? ""} ${e.reason ?? ""}`.trim();
          reject(new Error(lastError));
        },
        error: (e) => {
          errors++;
          lastError = String((e as Error)?.message ?? e);
          reject(e);
        },
      },
    });
    client.subscribe(
      { query },
      {
        next: (value) => {
          if (value.errors) {
            errors++;
            lastError = JSON.stringify(value.errors).slice(0, 300);
          }
          count();
        },
        error: (e) => {
          errors++;
          lastError = JSON.stringify(e).slice(0, 300);
        },
        complete: () => {},
      },
    );
    gqls.push(client);
  });
}

process.on("message", (raw: unknown) => {
  const msg = raw as { type: string; id: number; url: string; count: number; mode: string; apiKey?: string; query?: string; total?: number; timeoutMs?: number };
  const reply = (body: Record<string, unknown>) => process.send!({ type: msg.type, id: msg.id, ...body });
  if (msg.type === "connect") {
    void (async () => {
      try {
        // In batches: 1,000 handshakes at once would only queue in the kernel.
        for (let i = 0; i < msg.count; i += 100) {
          const batch = Array.from({ length: Math.min(100, msg.count - i) }, () =>
            msg.mode === "raw" ? connectRaw(msg.url) : connectGraphqlWs(msg.url, msg.apiKey ?? "", msg.query ?? ""),
          );
          await Promise.all(batch);
        }
        // graphql-ws acknowledges the connection, not the subscription: let subscribes land.
        if (msg.mode !== "raw") await new Promise((r) => setTimeout(r, 1_000));
        reply({ ok: true, errors, lastError });
      } catch (error) {
        reply({ ok: false, errors, lastError: String((error as Error)?.message ?? error) });
      }
    })();
  } else if (msg.type === "await") {
    const deadline = Date.now() + (msg.timeoutMs ?? 60_000);
    const check = () => {
      if (received >= (msg.total ?? 0) || Date.now() > deadline) reply({ received, first, last, errors, lastError });
      else setTimeout(check, 20);
    };
    check();
  } else if (msg.type === "count") {
    reply({ received, errors, lastError });
  } else if (msg.type === "reset") {
    received = 0;
    first = 0;
    last = 0;
    reply({});
  } else if (msg.type === "close") {
    for (const ws of raws) ws.terminate();
    void Promise.all(gqls.map((c) => c.dispose())).then(() => reply({}));
  }
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
process.send!({ type: "ready" });
