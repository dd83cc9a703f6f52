import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { startHookcast } from "../../src/server/app.js";
import { checkReadiness } from "../../src/server/health.js";
import { silentLogger } from "../../src/shared/logger.js";
import { DRIVERS, openTestDb } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { scrape, valueOf } from "../helpers/prometheus.js";

async function get(url: string): Promise<{ status: number; body: any; requestId: string | null }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), requestId: res.headers.get("x-request-id") };
}

describe.each(DRIVERS)("/healthz and /readyz on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  async function app(env: Record<string, string> = {}): Promise<TestApp> {
    const t = await startTestApp(driver, { env });
    cleanups.push(() => t.stop());
    return t;
  }

  it("is alive and ready with database, migrations and worker checked; 503 once the worker loop stops", async () => {
    const t = await app();
    expect(await get(`${t.url}/healthz`)).toMatchObject({ status: 200, body: { status: "ok" } });
    const ready = await get(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", worker: "ok" } });
    expect(ready.requestId).toMatch(/^[0-9a-f-]{36}$/);

    await t.app.worker!.stop();
    const stopped = await get(`${t.url}/readyz`);
    expect(stopped.status).toBe(503);
    expect(stopped.body).toMatchObject({ status: "unavailable", reason: "worker loop is not running", checks: { database: "ok", migrations: "ok", worker: "stopped" } });
    // Liveness is not readiness: the process is still alive.
    expect((await get(`${t.url}/healthz`)).status).toBe(200);
  });

  it("answers 503 naming a migration that is not applied", async () => {
    const t = await app({ HOOKCAST_ROLE: "api" });
    const [last] = await t.app.deps.db.read((m) => m.query("SELECT name FROM migrations ORDER BY id DESC LIMIT 1"));
    await t.app.deps.db.write((m) => m.query("DELETE FROM migrations WHERE name = ?", [last.name]));
    const res = await get(`${t.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: "unavailable", reason: `migrations not applied: ${last.name}`, checks: { database: "ok", migrations: "pending" } });
  });

  it("answers 503 when the database is unreachable, without driver text; api-only skips the worker check", async () => {
    const t = await app({ HOOKCAST_ROLE: "api" });
    expect((await get(`${t.url}/readyz`)).body).toEqual({ status: "ready", checks: { database: "ok", migrations: "ok", worker: "skipped" } });
    await t.app.deps.db.close();
    const res = await get(`${t.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: "unavailable", reason: "database unreachable", checks: { database: "unreachable", migrations: "skipped", worker: "skipped" } });
    // /metrics still serves the in-process series when the database gauges cannot be read.
    const samples = await scrape(t.url);
    expect(valueOf(samples, "hookcast_http_request_duration_seconds_count", { route: "/readyz", status: "503" })).toBeGreaterThanOrEqual(1);
  });
});

describe("readiness", () => {
  it("fails a worker whose loops have not run within HOOKCAST_WORKER_STALL", async () => {
    const { db, close } = await openTestDb("sqlite");
    try {
      const now = 1_000_000_000;
      const at = (lastTick: number) => checkReadiness({ db, worker: { lastTickAt: () => lastTick }, stallMs: 30_000, now: () => now });
      expect(await at(now - 29_000)).toEqual({ ready: true, checks: { database: "ok", migrations: "ok", worker: "ok" } });
      expect(await at(now - 31_000)).toMatchObject({ ready: false, reason: "worker loop has not run for 31 s (limit 30 s)", checks: { worker: "stalled" } });
    } finally {
      await close();
    }
  });

  it("a worker-only process serves /healthz, /readyz and /metrics on HOOKCAST_OPS_PORT, and nothing else", async () => {
    const api = await startTestApp("sqlite", { env: { HOOKCAST_ROLE: "api" } });
    try {
      const worker = await startHookcast(
        loadConfig({ DATABASE_URL: api.databaseUrl, HOOKCAST_ROLE: "worker", HOOKCAST_OPS_PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" }),
        { logger: silentLogger, worker: { pollIntervalMs: 20 } },
      );
      try {
        expect(worker.url).toBeNull();
        const ops = worker.opsUrl!;
        expect((await get(`${ops}/healthz`)).status).toBe(200);
        expect((await get(`${ops}/readyz`)).body).toMatchObject({ status: "ready", checks: { worker: "ok" } });
        const samples = await waitFor(async () => {
          const s = await scrape(ops);
          return valueOf(s, "hookcast_worker_last_tick_age_seconds") !== undefined ? s : null;
        });
        expect(valueOf(samples, "hookcast_worker_last_tick_age_seconds")).toBeLessThan(30);
        expect((await fetch(`${ops}/graphql`, { method: "POST" })).status).toBe(404);
      } finally {
        await worker.stop();
      }
    } finally {
      await api.stop();
    }
  });
});
