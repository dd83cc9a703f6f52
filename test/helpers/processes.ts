import { spawn, type ChildProcess } from "node:child_process";
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
