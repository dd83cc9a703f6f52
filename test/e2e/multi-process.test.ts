/**
 * The delivery engine across real processes on MySQL (issue 3): an in-process API, a real
 * receiver on port 0, and worker processes started as `node dist/src/main.js` with
 * HOOKCAST_ROLE=worker — then run side by side, killed with SIGKILL, and stopped with SIGTERM.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createConnection, type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { createMysqlDatabase } from "../helpers/mysql.js";
import { connectionPortsOf, killWorkerProcesses, startWorkerProcess, type WorkerProcess } from "../helpers/processes.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One webhook POST as the receiver saw it (body fully read). */
interface Received {
  hook: string;
  webhookId: string;
  eventId: string;
  remotePort: number;
}

/** A held delivery request (hold mode): answer it with `release()`. */
interface Held {
  webhookId: string;
  release: () => void;
}

/**
 * A webhook receiver on 127.0.0.1:0. Answers the REST Hooks handshake; records every webhook
 * POST under the hook named by its path (`/<hook>`); tracks how many requests per webhook-id are
 * open at once (from the request's arrival until its response is finished or the socket dies).
 * Normally answers 200 after 2–5 ms, so that concurrency is real; in hold mode keeps every
 * response open until the test releases it.
 */
class Receiver {
  readonly received: Received[] = [];
  readonly held: Held[] = [];
  /** Webhook-ids seen with two or more requests open at the same time. */
  readonly overlaps = new Set<string>();
  hold = false;
  private readonly open = new Map<string, number>();
  private server!: Server;
  url = "";
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    // Keep worker connections alive past the run, so that they can be told apart at the end.
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const h of this.held.splice(0)) h.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Received requests per hook: webhook-id → event ids (one entry per request). */
  byHook(hook: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.received) if (r.hook === hook) out.set(r.webhookId, [...(out.get(r.webhookId) ?? []), r.eventId]);
    return out;
  }

  /** Distinct event ids received for `hook`. */
  eventIds(hook: string): Set<string> {
    return new Set(this.received.filter((r) => r.hook === hook).map((r) => r.eventId));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const secret = req.headers["x-hook-secret"];
    if (typeof secret === "string") {
      req.resume();
      res.writeHead(200, { "x-hook-secret": secret }).end();
      return;
    }
    const webhookId = String(req.headers["webhook-id"] ?? "");
    const open = (this.open.get(webhookId) ?? 0) + 1;
    this.open.set(webhookId, open);
    if (open > 1) this.overlaps.add(webhookId);
    res.once("close", () => {
      const left = (this.open.get(webhookId) ?? 1) - 1;
      if (left <= 0) this.open.delete(webhookId);
      else this.open.set(webhookId, left);
    });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string };
      this.received.push({ hook: (req.url ?? "/").slice(1), webhookId, eventId: body.id, remotePort: req.socket.remotePort ?? 0 });
      const answer = () => {
        if (!res.writableEnded && !res.destroyed) res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      };
      if (this.hold) this.held.push({ webhookId, release: answer });
      else setTimeout(answer, 2 + Math.floor(Math.random() * 4)); // 2–5 ms
    });
  }
}

/** A worker on `databaseUrl` with this suite's short retries. */
function startWorker(databaseUrl: string, env: Record<string, string> = {}): WorkerProcess {
  return startWorkerProcess("dist/src/main.js", databaseUrl, { HOOKCAST_RETRY_SCHEDULE: "200ms,200ms,200ms", ...env });
}

/** Runs `fn` over `items` with at most `limit` calls at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** A fresh MySQL database with an in-process API (no worker), a receiver and a mysql2 connection. */
interface Setup {
  t: TestApp;
  receiver: Receiver;
  sql: Connection;
  databaseUrl: string;
  /** hook name (receiver path) → hook id */
  hooks: Map<string, string>;
  teardown: () => Promise<void>;
}

async function setUp(hookNames: string[]): Promise<Setup> {
  const db = await createMysqlDatabase();
  const cleanups: Array<() => Promise<unknown>> = [db.drop];
  try {
    const t = await startTestApp("mysql", { databaseUrl: db.url, env: { HOOKCAST_ROLE: "api" } });
    cleanups.unshift(() => t.stop());
    const receiver = await new Receiver().start();
    cleanups.unshift(() => receiver.stop());
    const sql = await createConnection({ uri: db.url });
    cleanups.unshift(() => sql.end());
    const hooks = new Map<string, string>();
    for (const name of hookNames) {
      const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id status verificationError } } }`, {
        input: { url: `${receiver.url}/${name}`, events: ["contact.created"] },
      });
      expect(data.createHook.hook.status, JSON.stringify(data.createHook.hook)).toBe("ACTIVE");
      hooks.set(name, data.createHook.hook.id);
    }
    const teardown = async () => {
      await killWorkerProcesses();
      for (const c of cleanups) await c().catch(() => {});
    };
    return { t, receiver, sql, databaseUrl: db.url, hooks, teardown };
  } catch (error) {
    for (const c of cleanups) await c().catch(() => {});
    throw error;
  }
}

/**
 * Produces `count` contact.created events in the first account's log: the first 100 (or fewer)
 * from real createContact mutations over HTTP, 16 at a time; the rest appended through the event
 * log in batches of 100, one transaction each — the same outbox path, without paying one commit
 * per event (2,000 mutations take tens of seconds on a busy machine).
 */
async function produceEvents(s: Setup, count: number, tag: string): Promise<void> {
  const real = Math.min(count, 100);
  await pool(Array.from({ length: real }, (_, i) => i), 16, (i) =>
    s.t.ok(`mutation($input: CreateContactInput!) { createContact(input: $input) { id } }`, { input: { email: `${tag}-${i}@example.com` } }),
  );
  const [{ id: accountId }] = await rows<{ id: string }>(s.sql, "SELECT id FROM accounts ORDER BY id LIMIT 1");
  for (let from = real; from < count; from += 100) {
    await s.t.app.deps.eventLog.change(accountId, async (change) => {
      for (let i = from; i < Math.min(count, from + 100); i++) {
        change.append({ type: "contact.created", source: "api", data: { id: `con_${tag}_${i}`, email: `${tag}-${i}@example.com` } });
      }
    });
  }
}

async function rows<T>(sql: Connection, query: string, params: unknown[] = []): Promise<T[]> {
  const [result] = await sql.query(query, params);
  return result as T[];
}

async function eventIdsOfType(sql: Connection, type: string): Promise<Set<string>> {
  return new Set((await rows<{ id: string }>(sql, "SELECT id FROM events WHERE type = ?", [type])).map((r) => r.id));
}

async function statusCounts(sql: Connection): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await rows<{ status: string; n: number }>(sql, "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")) out[r.status] = Number(r.n);
  return out;
}

/** The `webhook-id` → event id of every delivery row. */
async function deliveryEvents(sql: Connection): Promise<Map<string, string>> {
  return new Map((await rows<{ id: string; event_id: string }>(sql, "SELECT id, event_id FROM deliveries")).map((r) => [r.id, r.event_id]));
}

/** A bounded {@link waitFor} whose failure says what was seen at the deadline. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  await waitFor(check, { timeoutMs, intervalMs: 50 }).catch((error: Error) => {
    throw new Error(`${error.message}: ${describe()}`);
  });
}

let current: Setup | null = null;

beforeAll(() => {
  // The workers run the compiled entry point, as `npm run worker` does.
  execFileSync("npx", ["tsc", "-p", "."], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

afterEach(async () => {
  await current?.teardown();
  current = null;
});

afterAll(async () => {
  await killWorkerProcesses();
});

describe("delivery engine across worker processes on MySQL", () => {
  it("HOOKCAST_LEASE sets the lease, which must exceed the request timeout", () => {
    expect(loadConfig({}).leaseMs).toBe(60_000);
    expect(loadConfig({ HOOKCAST_REQUEST_TIMEOUT: "45s" }).leaseMs).toBe(90_000);
    expect(loadConfig({ HOOKCAST_LEASE: "3s", HOOKCAST_REQUEST_TIMEOUT: "2s" }).leaseMs).toBe(3_000);
    expect(() => loadConfig({ HOOKCAST_LEASE: "2s", HOOKCAST_REQUEST_TIMEOUT: "2s" })).toThrow(ConfigError);
    expect(() => loadConfig({ HOOKCAST_LEASE: "soon" })).toThrow(/HOOKCAST_LEASE/);
  });

  it("two workers over 2,000 events: every (hook, event) delivered, never one webhook-id in flight twice at once", async () => {
    const s = (current = await setUp(["a", "b"]));
    const workers = [startWorker(s.databaseUrl), startWorker(s.databaseUrl)];
    await produceEvents(s, 2_000, "two");
    const expected = await eventIdsOfType(s.sql, "contact.created");
    expect(expected.size).toBe(2_000);

    await waitUntil(
      () => [...s.hooks.keys()].every((h) => s.receiver.eventIds(h).size >= expected.size),
      60_000,
      () => `received ${[...s.hooks.keys()].map((h) => `${h}=${s.receiver.eventIds(h).size}`).join(" ")}; ${workers.map((w) => w.output()).join("\n")}`,
    );
    // Which worker sent what: the receiver's remote ports are the workers' local ports.
    const ports = workers.map((w) => connectionPortsOf(w.child.pid!, s.receiver.port));

    for (const name of s.hooks.keys()) expect(s.receiver.eventIds(name), `hook ${name}`).toEqual(expected);
    // The database agrees: one DELIVERED row per (hook, event), nothing else (the last outcome
    // writes may trail the last response by a moment).
    await waitFor(async () => (await statusCounts(s.sql)).DELIVERED === 4_000, { timeoutMs: 10_000 }).catch(() => undefined);
    expect(await statusCounts(s.sql)).toEqual({ DELIVERED: 4_000 });
    const stats = await s.t.ok(`{ hooks { id stats { delivered pending failed dead } } }`);
    for (const h of stats.hooks) expect(h.stats).toEqual({ delivered: 2_000, pending: 0, failed: 0, dead: 0 });

    // Never two requests for one webhook-id in flight at once, and each webhook-id always
    // carries the same event, the one its delivery row names.
    expect([...s.receiver.overlaps]).toEqual([]);
    const deliveries = await deliveryEvents(s.sql);
    for (const r of s.receiver.received) expect(deliveries.get(r.webhookId)).toBe(r.eventId);
    // No worker fighting over rows: with both alive and healthy, nothing is sent twice.
    expect(s.receiver.received.length).toBe(4_000);
    expect(await rows(s.sql, "SELECT delivery_id FROM delivery_attempts GROUP BY delivery_id HAVING COUNT(*) <> 1")).toEqual([]);

    // Both workers did part of the work (Linux /proc tells their connections apart).
    if (existsSync("/proc/net/tcp")) {
      const sentBy = ports.map((p) => s.receiver.received.filter((r) => p.has(r.remotePort)).length);
      expect(sentBy.every((n) => n > 0), `requests per worker over live connections: ${sentBy}`).toBe(true);
    }
    for (const w of workers) {
      expect(w.child.exitCode, w.output()).toBeNull();
      expect(w.output(), "no errors logged").not.toMatch(/"level":(50|60)/);
    }
  }, 90_000);

  it("a worker killed with SIGKILL mid-run, then replaced: nothing lost, duplicates only for what it held", async () => {
    const s = (current = await setUp(["k"]));
    const concurrency = 16;
    const env = { HOOKCAST_DELIVERY_CONCURRENCY: String(concurrency), HOOKCAST_REQUEST_TIMEOUT: "2s", HOOKCAST_LEASE: "3s" };
    await produceEvents(s, 1_500, "kill");
    const expected = await eventIdsOfType(s.sql, "contact.created");
    expect(expected.size).toBe(1_500);

    const first = startWorker(s.databaseUrl, env);
    await waitUntil(() => s.receiver.received.length >= 300, 30_000, () => `received ${s.receiver.received.length}; ${first.output()}`);
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const receivedAtKill = s.receiver.received.length;
    expect(receivedAtKill).toBeLessThan(1_500);
    // What the dead worker held: rows still under its lease.
    const leased = new Set((await rows<{ id: string }>(s.sql, "SELECT id FROM deliveries WHERE status = 'DELIVERING' OR lease_id IS NOT NULL")).map((r) => r.id));

    const second = startWorker(s.databaseUrl, env);
    await waitUntil(() => s.receiver.eventIds("k").size >= expected.size, 45_000, () => `received ${s.receiver.eventIds("k").size}; ${second.output()}`);
    await waitFor(async () => (await statusCounts(s.sql)).DELIVERED === 1_500, { timeoutMs: 10_000 }).catch(() => undefined);
    expect(await statusCounts(s.sql)).toEqual({ DELIVERED: 1_500 });
    expect(s.receiver.eventIds("k")).toEqual(expected);

    // Duplicates: only deliveries the dead worker held — sent, or answered but not yet recorded:
    // at most 2 × concurrency — each sent again with the same webhook-id and the same event.
    const deliveries = await deliveryEvents(s.sql);
    const duplicates = [...s.receiver.byHook("k")].filter(([, events]) => events.length > 1);
    for (const [webhookId, events] of duplicates) {
      expect(leased.has(webhookId), `${webhookId} was sent twice but not held by the killed worker`).toBe(true);
      expect(events.length).toBe(2);
      expect(new Set(events)).toEqual(new Set([deliveries.get(webhookId)]));
    }
    expect(duplicates.length).toBeLessThanOrEqual(2 * concurrency);
    expect([...s.receiver.overlaps]).toEqual([]);
    expect(second.child.exitCode, second.output()).toBeNull();
    expect(second.output(), "no errors logged").not.toMatch(/"level":(50|60)/);
  }, 60_000);

  it("SIGTERM: a worker with deliveries in flight exits 0 within 10 s, having delivered or released each", async () => {
    const s = (current = await setUp(["t"]));
    await produceEvents(s, 60, "term");
    s.receiver.hold = true;
    // LOG_LEVEL=info: its "shutting down" line tells when the signal has been handled.
    const worker = startWorker(s.databaseUrl, { HOOKCAST_DELIVERY_CONCURRENCY: "16", LOG_LEVEL: "info" });
    await waitUntil(() => s.receiver.held.length >= 16, 15_000, () => `held ${s.receiver.held.length}; ${worker.output()}`);

    const signalledAt = Date.now();
    worker.child.kill("SIGTERM");
    await waitUntil(() => worker.output().includes("shutting down"), 5_000, () => worker.output());
    // Half of what is in flight finishes during the drain; the other half never answers and
    // must be aborted and given back.
    const held = s.receiver.held.splice(0);
    expect(held).toHaveLength(16);
    const answered = held.slice(0, held.length / 2);
    const unanswered = held.slice(held.length / 2);
    for (const h of answered) h.release();
    const exit = await worker.exited;
    const tookMs = Date.now() - signalledAt;
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(10_000);

    // Nothing is left leased: what finished is DELIVERED, what was cut short is queued again.
    const state = new Map(
      (await rows<{ id: string; status: string; lease_id: string | null; queued: number; attempt_count: number }>(s.sql, "SELECT id, status, lease_id, queued, attempt_count FROM deliveries")).map((r) => [r.id, r]),
    );
    expect([...state.values()].filter((r) => r.status === "DELIVERING" || r.lease_id !== null)).toEqual([]);
    for (const h of answered) expect(state.get(h.webhookId)?.status, h.webhookId).toBe("DELIVERED");
    for (const h of unanswered) expect(state.get(h.webhookId), h.webhookId).toMatchObject({ status: "PENDING", queued: 1, attempt_count: 0 });

    // Another worker finishes the job.
    s.receiver.hold = false;
    for (const h of s.receiver.held.splice(0)) h.release();
    const next = startWorker(s.databaseUrl);
    await waitFor(async () => (await statusCounts(s.sql)).DELIVERED === 60, { timeoutMs: 15_000 }).catch(() => undefined);
    expect(await statusCounts(s.sql), next.output()).toEqual({ DELIVERED: 60 });
    expect(s.receiver.eventIds("t")).toEqual(await eventIdsOfType(s.sql, "contact.created"));
    // Only the aborted ones were sent twice.
    const twice = [...s.receiver.byHook("t")].filter(([, events]) => events.length > 1).map(([id]) => id);
    expect(new Set(twice)).toEqual(new Set(unanswered.map((h) => h.webhookId)));
    expect([...s.receiver.overlaps]).toEqual([]);
  }, 45_000);
});
