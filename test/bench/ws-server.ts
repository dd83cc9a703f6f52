/**
 * The raw websocket limit (L2), run as its own process: a bare `ws` server on 127.0.0.1:0 that
 * broadcasts the same envelope to every connected client, serializing it once per event — the
 * least work any live fan-out can do. IPC in: `{ type: "broadcast", id, events, payload }`
 * sends `events` messages to every client (waiting while socket buffers are over 1 MB) and
 * answers `{ type: "broadcast", id, clients }` when all are written.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

const HIGH_WATER = 1 << 20; // 1 MB per socket

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
const clients = new Set<WebSocket>();
wss.on("connection", (ws) => {
  clients.add(ws);
  ws.on("close", () => clients.delete(ws));
  ws.on("error", () => clients.delete(ws));
});

async function broadcast(events: number, payload: string): Promise<void> {
  for (let e = 0; e < events; e++) {
    // One serialization per event (the payload carries its sequence number), sent to all.
    const message = payload.replace('"sequence":1,', `"sequence":${e + 1},`);
    for (const ws of clients) ws.send(message);
    let waited = 0;
    while ([...clients].some((ws) => ws.bufferedAmount > HIGH_WATER) && waited < 10_000) {
      await new Promise((r) => setTimeout(r, 2));
      waited += 2;
    }
  }
}

process.on("message", (raw: unknown) => {
  const msg = raw as { type: string; id: number; events: number; payload: string };
  if (msg.type === "broadcast") void broadcast(msg.events, msg.payload).then(() => process.send!({ type: "broadcast", id: msg.id, clients: clients.size }));
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
wss.on("listening", () => process.send!({ type: "ready", port: (wss.address() as AddressInfo).port }));
