import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A worker process and what it printed (for failure messages). */
export interface WorkerProcess {
  child: ChildProcess;
  /** The last 4,000 characters it printed on stdout and stderr. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/**
 * Starts `node <main>` (a built `src/main.js`, relative to the repository) as a worker
 * (`HOOKCAST_ROLE=worker`, loopback targets allowed, warnings only) on `databaseUrl`, with `env`
 * on top; registered for {@link killWorkerProcesses}.
 */
export function startWorkerProcess(main: string, databaseUrl: string, env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { ...process.env, HOOKCAST_ROLE: "worker", DATABASE_URL: databaseUrl, HOOKCAST_ALLOW_PRIVATE_TARGETS: "true", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => output.slice(-4_000), exited };
}

/** SIGKILLs every worker still running and waits for each to exit. */
export async function killWorkerProcesses(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
  children.clear();
}

/**
 * Local ports of `pid`'s TCP connections to `remotePort` on 127.0.0.1 (Linux /proc): a receiver
 * sees them as its requests' remote ports, which tells which worker process sent what without
 * anything in the webhook itself. Only open connections are listed: call it while they are.
 */
export function connectionPortsOf(pid: number, remotePort: number): Set<number> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return new Set(); // the process is gone, and its connections with it
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // fd closed while listing
    }
  }
  const ports = new Set<number>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || !inodes.has(cols[9])) continue;
    if (parseInt(cols[2].split(":")[1], 16) === remotePort) ports.add(parseInt(cols[1].split(":")[1], 16));
  }
  return ports;
}
