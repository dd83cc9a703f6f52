/** Request/answer over a child's IPC channel, and the receiver process's handle. */
import { DIST_TEST, spawnNode, type Child } from "./processes.js";
import type { PathFaults, ReceiverReport } from "../receiver.js";

/** Sends `{ type, ...body, id }` and resolves with the child's answer carrying the same id. */
export function ask<T = any>(child: Child, type: string, body: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.proc.off("message", onMessage);
      reject(new Error(`${child.name}: no answer to ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: any) => {
      if (msg?.id !== id) return;
      clearTimeout(timer);
      child.proc.off("message", onMessage);
      resolve(msg as T);
    };
    child.proc.on("message", onMessage);
    child.proc.send({ type, id, ...body });
  });
}
let nextId = 1;

/** Waits for the child's `{ type: "ready", … }` message. */
export function ready<T = any>(child: Child, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.name} not ready within ${timeoutMs} ms:\n${child.output()}`)), timeoutMs);
    child.proc.on("message", (msg: any) => {
      if (msg?.type === "ready") {
        clearTimeout(timer);
        resolve(msg as T);
      }
    });
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${code ?? signal}) before it was ready:\n${child.output()}`));
    });
  });
}

/** The receiver process (see receiver.ts). */
export interface ReceiverProcess {
  child: Child;
  url: string;
  setSecrets(secrets: Record<string, string>): Promise<void>;
  setFaults(faults: Record<string, PathFaults>): Promise<void>;
  /** Requests recorded, and distinct webhook-ids answered 2xx. */
  count(): Promise<{ total: number; ok: number }>;
  report(): Promise<ReceiverReport>;
  clear(): Promise<void>;
}

/** Starts the receiver in its own process. */
export async function startReceiverProcess(name = "receiver"): Promise<ReceiverProcess> {
  const child = spawnNode(name, `${DIST_TEST}bench/receiver.js`, { ipc: true });
  const { port } = await ready<{ port: number }>(child);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    setSecrets: async (secrets) => void (await ask(child, "secrets", { secrets })),
    setFaults: async (faults) => void (await ask(child, "faults", { faults })),
    count: () => ask(child, "count"),
    report: async () => (await ask<{ report: ReceiverReport }>(child, "report")).report,
    clear: async () => void (await ask(child, "clear")),
  };
}
