/**
 * Child processes of the bench and the soak: Hookcast as `node dist/src/main.js`, the receiver,
 * the websocket server and clients. Every child is registered and ended by {@link stopAll}, which
 * also runs on SIGINT/SIGTERM and on an uncaught error, so an instrument leaves nothing running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { fileURLToPath } from "node:url";

/** The repository root (this file compiles to dist/test/bench/lib/). */
export const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
/** The compiled bench/soak folder (dist/test/). */
export const DIST_TEST = fileURLToPath(new URL("../..", import.meta.url));

/** A running child process. */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** The last 8 KB of what it printed (stdout and stderr), for error messages. */
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line for which `test` returns a value (JSON lines are parsed). */
  waitForLine<T>(test: (line: string, json: any) => T | undefined, timeoutMs?: number): Promise<T>;
  /** Calls `listener` with every later stdout line (JSON lines parsed) until the process exits. */
  onLine(listener: (line: string, json: any) => void): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL; resolves when gone. */
  kill(): Promise<void>;
}

const children = new Set<Child>();

/** Spawns `node <script> ...args`, with IPC when `ipc` is set; registered for {@link stopAll}. */
export function spawnNode(name: string, script: string, options: { args?: string[]; env?: Record<string, string>; ipc?: boolean; nodeArgs?: string[] } = {}): Child {
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  let partial = "";
  const watchers = new Set<(line: string, json: unknown) => void>();
  const keep = (text: string) => {
    tail = (tail + text).slice(-8_192);
  };
  proc.stdout!.on("data", (d: Buffer) => {
    const text = d.toString();
    keep(text);
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      let json: unknown = undefined;
      if (line.startsWith("{")) {
        try {
          json = JSON.parse(line);
        } catch {
          json = undefined;
        }
      }
      for (const w of [...watchers]) w(line, json);
    }
  });
  proc.stderr!.on("data", (d: Buffer) => keep(d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const child: Child = {
    name,
    proc,
    exited,
    output: () => tail,
    waitForLine<T>(test: (line: string, json: any) => T | undefined, timeoutMs = 30_000) {
      return new Promise<T>((resolve, reject) => {
        const done = (error: Error | null, value?: T) => {
          clearTimeout(timer);
          watchers.delete(watch);
          if (error) reject(error);
          else resolve(value as T);
        };
        const watch = (line: string, json: unknown) => {
          const value = test(line, json);
          if (value !== undefined) done(null, value);
        };
        const timer = setTimeout(() => done(new Error(`${name}: no expected output within ${timeoutMs} ms:\n${tail}`)), timeoutMs);
        watchers.add(watch);
        void exited.then(({ code, signal }) => done(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${tail}`)));
      });
    },
    onLine(listener) {
      watchers.add(listener);
      void exited.then(() => watchers.delete(listener));
    },
    async stop(graceMs = 10_000) {
      if (gone()) return void (await exited);
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!gone()) proc.kill("SIGKILL");
      await exited;
    },
  };
  children.add(child);
  return child;
}

/** Options of {@link startHookcastProcess}. */
export interface HookcastProcessOptions {
  databaseUrl: string;
  role: "api" | "worker" | "all";
  /** The first account's API key on an empty database. */
  bootstrapKey: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  name?: string;
  /** Niceness (0–19): a worker sharing cores with an API can yield to it. */
  nice?: number;
}

/** A Hookcast process, ready: its GraphQL URL (null for a worker). */
export interface HookcastProcess extends Child {
  readonly url: string | null;
}

/**
 * Starts `node dist/src/main.js` on port 0 and waits for its start line (the GraphQL URL, or
 * "worker started"). Loopback targets are allowed: the receivers run on 127.0.0.1.
 */
export async function startHookcastProcess(options: HookcastProcessOptions): Promise<HookcastProcess> {
  const child = spawnNode(options.name ?? `hookcast-${options.role}`, "dist/src/main.js", {
    nodeArgs: options.nodeArgs,
    env: {
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: options.databaseUrl,
      HOOKCAST_ROLE: options.role,
      HOOKCAST_BOOTSTRAP_API_KEY: options.bootstrapKey,
      HOOKCAST_ALLOW_PRIVATE_TARGETS: "true",
      // The load comes from one API key and one address on purpose: no per-key or per-address limit.
      HOOKCAST_RATE_LIMIT: "0",
      HOOKCAST_PUBLIC_RATE_LIMIT: "0",
      LOG_LEVEL: "info",
      ...options.env,
    },
  });
  if (options.nice && child.proc.pid) setPriority(child.proc.pid, options.nice);
  const url = await child.waitForLine((_line, json) => {
    if (json && typeof json.url === "string") return json.url.replace(/\/graphql$/, "") as string;
    if (json && json.msg === "Hookcast worker started") return "";
    return undefined;
  }, 60_000);
  return Object.assign(child, { url: url || null });
}

/** Ends every registered child: SIGTERM, SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all([...children].map((c) => c.stop(graceMs).catch(() => {})));
}

let cleanupHooks: Array<() => Promise<unknown>> = [];

/** Registers `fn` to run (once, in reverse order) when the instrument ends, however it ends. */
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanupHooks.unshift(fn);
}

/** Stops all children and runs the cleanup hooks. */
export async function cleanup(): Promise<void> {
  await stopAll();
  const hooks = cleanupHooks;
  cleanupHooks = [];
  for (const fn of hooks) await fn().catch(() => {});
}

/** Runs `main`, always cleaning up; exits with its code (1 on error). Ctrl-C cleans up too. */
export function runMain(main: () => Promise<number>): void {
  let ending = false;
  const end = async (code: number) => {
    if (ending) return;
    ending = true;
    await cleanup();
    process.exit(code);
  };
  process.on("SIGINT", () => void end(130));
  process.on("SIGTERM", () => void end(143));
  main().then(
    (code) => end(code),
    (error) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      void end(1);
    },
  );
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wall-clock milliseconds, comparable across processes: the system clock itself. Not
 * `performance.timeOrigin + performance.now()`: that is fixed when a process starts, so after
 * the system clock is stepped (NTP) two processes disagree by the step (a run here saw 5 s).
 */
export const wallNow = () => Date.now();
