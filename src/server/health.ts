import type { Db } from "../db/index.js";

/** Outcome of one readiness check. */
export type CheckResult = "ok" | "skipped" | string;

/** What `/readyz` answers. */
export interface Readiness {
  ready: boolean;
  /** The first failing check, in words (absent when ready). No driver text: that goes to `error`. */
  reason?: string;
  /** The error behind a failed database check, for the server log only. */
  error?: unknown;
  checks: { database: CheckResult; migrations: CheckResult; worker: CheckResult };
}

/** What readiness looks at. */
export interface ReadinessDeps {
  db: Db;
  /** This process's worker, or null when it runs none (`HOOKCAST_ROLE=api`). */
  worker: { lastTickAt(): number | null } | null;
  /** A worker whose loops have not run for this long is stuck (ms). */
  stallMs: number;
  /** Longest wait for the database, ms. Default 2 s. */
  timeoutMs?: number;
  /** Epoch ms now (tests). Default Date.now. */
  now?: () => number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Readiness of this process: the database answers, every migration this build knows is applied,
 * and (when this process runs a worker) the worker loops ran within `stallMs`. Never throws.
 */
export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const checks: Readiness["checks"] = { database: "skipped", migrations: "skipped", worker: "skipped" };
  const fail = (reason: string): Readiness => ({ ready: false, reason, checks });
  const timeoutMs = deps.timeoutMs ?? 2_000;

  let applied: string[];
  try {
    if (!deps.db.dataSource.isInitialized) throw new Error("the connection is closed");
    applied = await withTimeout(
      deps.db.read(async (m) => {
        await m.query("SELECT 1");
        const rows: Array<{ name: string }> = await m.query("SELECT name FROM migrations");
        return rows.map((r) => r.name);
      }),
      timeoutMs,
      "the database",
    );
    checks.database = "ok";
  } catch (error) {
    checks.database = "unreachable";
    return { ...fail("database unreachable"), error };
  }

  const known = deps.db.dataSource.migrations.map((m) => m.name).filter((n): n is string => !!n);
  const missing = known.filter((name) => !applied.includes(name));
  if (missing.length) {
    checks.migrations = "pending";
    return fail(`migrations not applied: ${missing.join(", ")}`);
  }
  checks.migrations = "ok";

  if (deps.worker) {
    const last = deps.worker.lastTickAt();
    if (last === null) {
      checks.worker = "stopped";
      return fail("worker loop is not running");
    }
    const age = (deps.now ?? Date.now)() - last;
    if (age > deps.stallMs) {
      checks.worker = "stalled";
      return fail(`worker loop has not run for ${Math.round(age / 1000)} s (limit ${Math.round(deps.stallMs / 1000)} s)`);
    }
    checks.worker = "ok";
  }
  return { ready: true, checks };
}
