/**
 * The webhook receiver of the bench and the soak, run as its own process
 * (`node dist/test/bench/receiver.js`, with an IPC channel). It reads each body, answers the
 * REST Hooks handshake, verifies the Standard Webhooks signature with the `standardwebhooks`
 * package (the secret of each path is sent over IPC), answers 204, and records the webhook-id,
 * the receive time and the answer of every request. For the soak it can misbehave per path:
 * 500s, hangs (the sender times out), connection resets and 410 Gone.
 *
 * IPC in:  { type: "secrets", secrets: { "/path": "whsec_…" } } | { type: "faults", faults }
 *          | { type: "count" } | { type: "report" } | { type: "clear" }
 * IPC out: { type: "ready", port } then one answer per request, `{ type, id, … }`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Webhook } from "standardwebhooks";

/** How one path misbehaves; probabilities per request, from 0 to 1. */
export interface PathFaults {
  p500?: number;
  pTimeout?: number;
  pReset?: number;
  /** Answer 410 Gone to every webhook. */
  gone?: boolean;
}

/** One webhook request as the receiver saw it. */
export interface ReceivedRecord {
  path: string;
  webhookId: string;
  /** Wall-clock ms when the body had been read. */
  at: number;
  /** The answer: an HTTP status, or 0 for a hang or reset. */
  status: number;
  /** The envelope's `timestamp` (ms), NaN when the body did not parse. */
  eventAt: number;
  eventId: string;
  /** The envelope's `data.id` (the contact), "" when absent. */
  subject: string;
}

/** What `report` returns. */
export interface ReceiverReport {
  records: ReceivedRecord[];
  handshakes: number;
  badSignatures: number;
  unverified: number;
}

/** The system clock, as the bench process and Hookcast's event timestamps read it (see `wallNow` in lib/processes.ts). */
const wallNow = () => Date.now();

function main(): void {
  const verifiers = new Map<string, Webhook>();
  let faults: Record<string, PathFaults> = {};
  let records: ReceivedRecord[] = [];
  const okIds = new Set<string>();
  let handshakes = 0;
  let badSignatures = 0;
  let unverified = 0;
  const sockets = new Set<Socket>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = wallNow();
      const secret = req.headers["x-hook-secret"];
      if (typeof secret === "string") {
        handshakes++;
        res.writeHead(200, { "x-hook-secret": secret }).end();
        return;
      }
      const path = (req.url ?? "/").split("?")[0];
      const body = Buffer.concat(chunks).toString("utf8");
      const webhookId = String(req.headers["webhook-id"] ?? "");
      let envelope: { id?: string; timestamp?: string; data?: { id?: string } } | null = null;
      const verifier = verifiers.get(path);
      if (verifier) {
        try {
          envelope = verifier.verify(body, {
            "webhook-id": webhookId,
            "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
            "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
          }) as typeof envelope;
        } catch {
          badSignatures++;
          records.push({ path, webhookId, at, status: 400, eventAt: NaN, eventId: "", subject: "" });
          res.writeHead(400).end("bad signature");
          return;
        }
      } else {
        unverified++;
        try {
          envelope = JSON.parse(body);
        } catch {
          envelope = null;
        }
      }
      const record: ReceivedRecord = {
        path,
        webhookId,
        at,
        status: 204,
        eventAt: envelope?.timestamp ? Date.parse(envelope.timestamp) : NaN,
        eventId: envelope?.id ?? "",
        subject: typeof envelope?.data?.id === "string" ? envelope.data.id : "",
      };
      records.push(record);
      const f = faults[path];
      if (f) {
        if (f.gone) {
          record.status = 410;
          res.writeHead(410).end("gone");
          return;
        }
        const roll = Math.random();
        const p500 = f.p500 ?? 0;
        const pTimeout = f.pTimeout ?? 0;
        const pReset = f.pReset ?? 0;
        if (roll < p500) {
          record.status = 500;
          res.writeHead(500).end("injected failure");
          return;
        }
        if (roll < p500 + pTimeout) {
          record.status = 0;
          // Hang until the sender gives up; the socket is closed later to bound what is held.
          setTimeout(() => req.socket.destroy(), 30_000).unref();
          return;
        }
        if (roll < p500 + pTimeout + pReset) {
          record.status = 0;
          req.socket.destroy();
          return;
        }
      }
      okIds.add(webhookId);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  process.on("message", (raw: unknown) => {
    const msg = raw as { type: string; id?: number; secrets?: Record<string, string>; faults?: Record<string, PathFaults> };
    const reply = (body: Record<string, unknown>) => process.send!({ type: msg.type, id: msg.id, ...body });
    switch (msg.type) {
      case "secrets":
        for (const [path, secret] of Object.entries(msg.secrets ?? {})) verifiers.set(path, new Webhook(secret));
        return reply({});
      case "faults":
        faults = { ...faults, ...msg.faults };
        return reply({});
      case "count":
        return reply({ total: records.length, ok: okIds.size });
      case "report":
        return reply({ report: { records, handshakes, badSignatures, unverified } satisfies ReceiverReport });
      case "clear":
        records = [];
        okIds.clear();
        return reply({});
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => {
    for (const s of sockets) s.destroy();
    server.close(() => process.exit(0));
  });

  server.listen(0, "127.0.0.1", () => {
    process.send!({ type: "ready", port: (server.address() as AddressInfo).port });
  });
}

main();
