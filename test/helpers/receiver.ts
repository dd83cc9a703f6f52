import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a receiver got. */
export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: any;
  at: number;
}

/** How the receiver answers a webhook: a response, or misbehaviour. */
export type Answer =
  | { status: number; headers?: Record<string, string>; body?: string | Buffer; delayMs?: number }
  | { hang: true }
  | { reset: true }
  | { bigBody: number };

/** How the receiver answers the REST Hooks handshake. */
export type HandshakeMode = "echo" | "wrong" | "none" | "fail";

/**
 * A real webhook receiver on 127.0.0.1, port 0. Its answers can be flipped mid-test (svix
 * style); every request is recorded. Handshake requests (with X-Hook-Secret) are recorded apart.
 */
export interface Receiver {
  url: string;
  webhooks: Received[];
  handshakes: Received[];
  handshake: HandshakeMode;
  /** Answer for the next webhooks (default 204). */
  answer: (req: Received, index: number) => Answer;
  /** Bytes of big bodies actually written before the client went away. */
  bigBodyBytesWritten: number[];
  stop(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const sockets = new Set<import("node:net").Socket>();
  const receiver: Receiver = {
    url: "",
    webhooks: [],
    handshakes: [],
    handshake: "echo",
    answer: () => ({ status: 204 }),
    bigBodyBytesWritten: [],
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      const received: Received = { path: req.url ?? "/", headers: req.headers, body, json, at: Date.now() };
      const secret = req.headers["x-hook-secret"];
      if (typeof secret === "string") {
        receiver.handshakes.push(received);
        if (receiver.handshake === "echo") res.writeHead(200, { "x-hook-secret": secret }).end();
        else if (receiver.handshake === "wrong") res.writeHead(200, { "x-hook-secret": "not-the-secret" }).end();
        else if (receiver.handshake === "none") res.writeHead(200).end("ok");
        else res.writeHead(500).end("nope");
        return;
      }
      const index = receiver.webhooks.push(received) - 1;
      const answer = receiver.answer(received, index);
      if ("hang" in answer) return; // never answer: the client times out
      if ("reset" in answer) {
        req.socket.destroy();
        return;
      }
      if ("bigBody" in answer) {
        res.writeHead(200, { "content-type": "text/plain" });
        const chunk = Buffer.alloc(65_536, 120);
        let written = 0;
        const slot = receiver.bigBodyBytesWritten.push(0) - 1;
        const pump = () => {
          while (written < answer.bigBody) {
            written += chunk.length;
            receiver.bigBodyBytesWritten[slot] = written;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          res.end();
        };
        res.on("close", () => (receiver.bigBodyBytesWritten[slot] = written));
        pump();
        return;
      }
      const respond = () => {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? "");
      };
      // A slow receiver: answers after delayMs (stop() destroys the socket of one still waiting).
      if (answer.delayMs) setTimeout(() => !res.destroyed && respond(), answer.delayMs);
      else respond();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
