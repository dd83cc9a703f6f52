/**
 * `npm run bench`: Hookcast against the limits of this machine, measured in the same run.
 *
 * Starts everything it needs (fresh MariaDB databases and SQLite files, Hookcast as real
 * `node dist/src/main.js` processes, the receiver and the websocket clients in their own
 * processes), runs each case bounded in count and time, prints a table and writes JSON, and
 * stops everything it started. Every figure is divided by a limit measured in this run:
 * L1 (raw signed POSTs to the same receiver) or L2 (a bare `ws` broadcast to the same clients).
 *
 * Flags: `--quick` (small sizes, for development), `--only=L1,1,2` (some cases),
 * `--no-sqlite`, `--out=<file>`, `--cpu-prof` (Hookcast processes write .cpuprofile files to
 * test/bench/profiles/), `--worker-nice=N` (cases 2 and 4 on MySQL run twice: the worker process
 * at the API's priority, then at this niceness — default 10 — so that the request path gets the
 * two cores first, as on a host that runs both).
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { Pool } from "undici";
import { AccountEntity } from "../../src/accounts/account.entity.js";
import { openDb } from "../../src/db/index.js";
import { insertDeliveries, newDelivery } from "../../src/delivery/queue.js";
import { generateSigningSecret, signedHeaders } from "../../src/delivery/sign.js";
import { appendEvents, EventLog, type EventDraft } from "../../src/events/event-log.js";
import { RedisEventBus } from "../../src/realtime/redis-event-bus.js";
import { systemClock } from "../../src/shared/clock.js";
import { silentLogger } from "../../src/shared/logger.js";
import { contactInput, CREATE_CONTACT, createHook, freshDatabase, GqlClient, pool, rootConnection, sampleEnvelope, type Driver } from "./lib/hookcast.js";
import { ask, ready, startReceiverProcess, type ReceiverProcess } from "./lib/ipc.js";
import { DIST_TEST, onCleanup, ROOT, runMain, sleep, spawnNode, startHookcastProcess, wallNow, type Child, type HookcastProcess } from "./lib/processes.js";
import { markdownTable, percentile, slope, type Row } from "./lib/stats.js";

const BOOTSTRAP_KEY = "hc_bench_bootstrap_key_0123456789";

/** Sizes of one run; `--quick` shrinks them. */
interface Sizes {
  l1Requests: number;
  wsClients: number;
  wsEvents: number;
  drainBacklog: number;
  loadMs: number;
  latencyMs: number;
  latencyRate: number;
  concurrency: number;
  hooks: number;
}

const FULL: Sizes = { l1Requests: 20_000, wsClients: 1_000, wsEvents: 200, drainBacklog: 20_000, loadMs: 15_000, latencyMs: 10_000, latencyRate: 500, concurrency: 16, hooks: 10 };
const QUICK: Sizes = { l1Requests: 3_000, wsClients: 200, wsEvents: 100, drainBacklog: 2_000, loadMs: 4_000, latencyMs: 3_000, latencyRate: 500, concurrency: 16, hooks: 10 };

interface Flags {
  quick: boolean;
  only: Set<string> | null;
  sqlite: boolean;
  out: string;
  cpuProf: boolean;
  /** Niceness of the worker process beside an API process on the same cores. */
  workerNice: number;
}

function parseFlags(argv: string[]): Flags {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const quick = argv.includes("--quick");
  const only = get("only");
  return {
    quick,
    only: only ? new Set(only.split(",").map((s) => s.trim().toUpperCase())) : null,
    sqlite: !argv.includes("--no-sqlite"),
    out: get("out") ?? join(ROOT, "test/bench/results", quick ? "quick.json" : "latest.json"),
    cpuProf: argv.includes("--cpu-prof"),
    workerNice: Number(get("worker-nice") ?? 10),
  };
}

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** Everything a case needs. */
interface Ctx {
  sizes: Sizes;
  flags: Flags;
  receiver: ReceiverProcess;
  nodeArgs: string[];
  /** Requests/s of L1, deliveries/s of… NaN until measured. */
  l1: number;
  l2: number;
  /** `redis://…` when Redis answers on 127.0.0.1:6379 (else API and worker rely on polling). */
  redis: string | null;
}

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * L1: undici keep-alive POSTs of the same ~1.5 KB body, signed like Hookcast signs
 * (`signedHeaders`), concurrency 64, to the same receiver. Requests/s over `n` requests.
 */
async function measureL1(ctx: Ctx, n: number): Promise<{ perSecond: number; seconds: number; requests: number; bodyBytes: number }> {
  const secret = generateSigningSecret();
  await ctx.receiver.setSecrets({ "/l1": secret });
  const body = sampleEnvelope();
  const client = new Pool(ctx.receiver.url, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
  const send = async (i: number) => {
    const headers = signedHeaders(secret, `msg_l1_${i}`, body, new Date());
    const res = await client.request({ path: "/l1", method: "POST", headers: { ...headers, "content-type": "application/json", "user-agent": "bench" }, body });
    await res.body.dump();
    if (res.statusCode !== 204) throw new Error(`L1: receiver answered ${res.statusCode}`);
  };
  await pool(500, 64, (i) => send(1_000_000 + i)); // warm up connections and JIT
  const started = wallNow();
  const deadline = started + 30_000;
  const result = await pool(n, 64, async (i) => {
    if (wallNow() > deadline) return;
    await send(i);
  });
  const seconds = (wallNow() - started) / 1000;
  await client.close();
  if (result.failed) throw new Error(`L1: ${result.failed} requests failed: ${String(result.firstError)}`);
  await ctx.receiver.clear();
  return { perSecond: result.ok / seconds, seconds, requests: result.ok, bodyBytes: Buffer.byteLength(body) };
}

/**
 * The L1 row. L1 is measured again right before each case that is divided by it (the machine
 * is shared: load drifts within a run); each row's limit column shows the L1 it was divided by.
 */
async function limitL1(ctx: Ctx): Promise<Row> {
  const l1 = await measureL1(ctx, ctx.sizes.l1Requests);
  ctx.l1 = l1.perSecond;
  return { case: "L1", name: "raw signed POST", driver: "-", figure: ctx.l1, unit: "req/s", limit: NaN, ratio: NaN, goal: "limit", met: null, details: { ...l1 } };
}

/** L1 measured again now (a shorter run), for the case that follows. */
async function freshL1(ctx: Ctx): Promise<number> {
  return (await measureL1(ctx, Math.round(ctx.sizes.l1Requests / 2))).perSecond;
}

async function startWsClients(): Promise<Child> {
  const child = spawnNode("ws-clients", `${DIST_TEST}bench/ws-clients.js`, { ipc: true });
  await ready(child);
  return child;
}

/** Waits for `total` messages at the clients; messages/s from the first to the last. */
async function awaitMessages(clients: Child, total: number, startedAt: number, timeoutMs: number): Promise<{ received: number; perSecond: number; seconds: number; errors: number; lastError: string }> {
  const r = await ask<{ received: number; first: number; last: number; errors: number; lastError: string }>(clients, "await", { total, timeoutMs }, timeoutMs + 10_000);
  const seconds = (r.last - startedAt) / 1000;
  return { received: r.received, perSecond: r.received / seconds, seconds, errors: r.errors, lastError: r.lastError };
}

/** L2: a bare `ws` server broadcasting the same envelope to the same number of clients. */
async function limitL2(ctx: Ctx): Promise<Row> {
  const server = spawnNode("ws-server", `${DIST_TEST}bench/ws-server.js`, { ipc: true });
  const { port } = await ready<{ port: number }>(server);
  const clients = await startWsClients();
  const { ok, lastError } = await ask(clients, "connect", { url: `ws://127.0.0.1:${port}`, count: ctx.sizes.wsClients, mode: "raw" }, 120_000);
  if (!ok) throw new Error(`L2: clients could not connect: ${lastError}`);
  const payload = sampleEnvelope(0);
  await ask(server, "broadcast", { events: 5, payload }); // warm up
  await ask(clients, "await", { total: 5 * ctx.sizes.wsClients, timeoutMs: 30_000 }, 40_000);
  await ask(clients, "reset");
  const total = ctx.sizes.wsEvents * ctx.sizes.wsClients;
  const startedAt = wallNow();
  await ask(server, "broadcast", { events: ctx.sizes.wsEvents, payload }, 120_000);
  const r = await awaitMessages(clients, total, startedAt, 60_000);
  await ask(clients, "close");
  await clients.stop();
  await server.stop();
  if (r.received < total) throw new Error(`L2: ${r.received} of ${total} messages arrived`);
  ctx.l2 = r.perSecond;
  return { case: "L2", name: "raw ws broadcast", driver: "-", figure: ctx.l2, unit: "msg/s", limit: NaN, ratio: NaN, goal: "limit", met: null, details: { clients: ctx.sizes.wsClients, events: ctx.sizes.wsEvents, seconds: r.seconds } };
}

// ---------------------------------------------------------------------------------------------
// Hookcast set-ups

/** A fresh database with an API (and, on MySQL, separate worker) process. */
interface Stack {
  driver: Driver;
  databaseUrl: string;
  api: HookcastProcess;
  worker: HookcastProcess | null;
  gql: GqlClient;
  stop(): Promise<void>;
}

/**
 * MySQL: `HOOKCAST_ROLE=api` + one `HOOKCAST_ROLE=worker` process (the scale-out set-up; fan-out
 * and dispatch off the API process; the worker at niceness `nice`, default 0) — or one `all`
 * process when `single`. SQLite: always one `all` process (an embedded database has one process).
 */
async function startStack(ctx: Ctx, driver: Driver, options: { single?: boolean; env?: Record<string, string>; nice?: number } = {}): Promise<Stack> {
  const db = await freshDatabase(driver);
  onCleanup(db.drop);
  const single = driver === "sqlite" || options.single === true;
  const env: Record<string, string> = { HOOKCAST_PER_HOOK_IN_FLIGHT: "64", ...options.env };
  // Separate API and worker processes learn of commits through Redis, as in production; a
  // channel of their own keeps other runs on the same Redis out.
  if (!single && ctx.redis) Object.assign(env, { REDIS_URL: ctx.redis, HOOKCAST_REDIS_CHANNEL: `bench-${randomBytes(4).toString("hex")}` });
  const api = await startHookcastProcess({ databaseUrl: db.url, role: single ? "all" : "api", bootstrapKey: BOOTSTRAP_KEY, env, nodeArgs: ctx.nodeArgs });
  const worker = single ? null : await startHookcastProcess({ databaseUrl: db.url, role: "worker", bootstrapKey: BOOTSTRAP_KEY, env, nodeArgs: ctx.nodeArgs, nice: options.nice ?? 0 });
  const gql = new GqlClient(api.url!, BOOTSTRAP_KEY, 64);
  return {
    driver,
    databaseUrl: db.url,
    api,
    worker,
    gql,
    async stop() {
      await gql.close();
      await Promise.all([api.stop(), worker?.stop()]);
      await db.drop();
    },
  };
}

/** Creates `count` hooks on the receiver (paths `/<prefix>-<k>`) for contact.created; registers their secrets. */
async function createHooks(ctx: Ctx, gql: GqlClient, prefix: string, count: number): Promise<string[]> {
  const secrets: Record<string, string> = {};
  const ids: string[] = [];
  for (let k = 0; k < count; k++) {
    const path = `/${prefix}-${k}`;
    const hook = await createHook(gql, `${ctx.receiver.url}${path}`, ["contact.created"]);
    secrets[path] = hook.secret;
    ids.push(hook.id);
  }
  await ctx.receiver.setSecrets(secrets);
  return ids;
}

/** Waits until the receiver has `ok` distinct webhook-ids answered 2xx, or `timeoutMs` passes. */
async function awaitDelivered(ctx: Ctx, ok: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await ctx.receiver.count()).ok >= ok) return true;
    await sleep(100);
  }
  return false;
}

/** MariaDB's global Questions and Com_commit counters. */
async function serverStatus(): Promise<{ Questions: number; Com_commit: number }> {
  const conn = await rootConnection();
  const [rows] = await conn.query(`SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_commit')`);
  await conn.end();
  const out = { Questions: 0, Com_commit: 0 };
  for (const r of rows as Array<{ Variable_name: keyof typeof out; Value: string }>) out[r.Variable_name] = Number(r.Value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Case 1: drain

/**
 * A backlog of due deliveries to one active hook, inserted through Hookcast's own DB layer
 * (events appended with the event log's `appendEvents`, deliveries with the queue's
 * `insertDeliveries`) while no worker runs; then a worker starts and drains it.
 */
async function caseDrain(ctx: Ctx, driver: Driver): Promise<Row> {
  const n = ctx.sizes.drainBacklog;
  const fresh = await freshDatabase(driver);
  onCleanup(fresh.drop);
  const env = { HOOKCAST_PER_HOOK_IN_FLIGHT: "64" };
  const api = await startHookcastProcess({ databaseUrl: fresh.url, role: "api", bootstrapKey: BOOTSTRAP_KEY, env });
  const gql = new GqlClient(api.url!, BOOTSTRAP_KEY);
  const [hookId] = await createHooks(ctx, gql, `drain-${driver}`, 1);
  await gql.close();
  await api.stop();

  const db = await openDb(fresh.url);
  const account = await db.read((m) => m.findOneOrFail(AccountEntity, { where: {} }));
  const started = Date.now();
  for (let from = 0; from < n; from += 500) {
    await db.write(async (m) => {
      const now = new Date();
      const drafts: EventDraft[] = [];
      for (let i = from; i < Math.min(n, from + 500); i++) {
        const input = contactInput(`drain-${driver}`, i);
        const data = { id: `con_drain_${i}`, ...input, tags: [], lists: [], bounceCount: 0, bouncedAt: null, createdAt: now, updatedAt: now };
        drafts.push({ type: "contact.created", source: "api", data, contactId: `con_drain_${i}`, fanout: false });
      }
      const events = await appendEvents(m, account.id, drafts, now);
      await insertDeliveries(
        m,
        events.map((e) => newDelivery({ accountId: account.id, hookId, eventId: e.id, eventSequence: e.sequence, now })),
      );
    });
  }
  await db.close();
  log(`case 1 (${driver}): ${n} due deliveries inserted in ${Date.now() - started} ms; starting a worker`);

  const l1 = await freshL1(ctx);
  await ctx.receiver.clear();
  const before = driver === "mysql" ? await serverStatus() : null;
  const worker = await startHookcastProcess({ databaseUrl: fresh.url, role: driver === "mysql" ? "worker" : "all", bootstrapKey: BOOTSTRAP_KEY, env, nodeArgs: ctx.nodeArgs });
  const t0 = wallNow();
  const drained = await awaitDelivered(ctx, n, ctx.flags.quick ? 60_000 : 180_000);
  const report = await ctx.receiver.report();
  const after = driver === "mysql" ? await serverStatus() : null;
  await worker.stop();
  if (process.env.BENCH_DEBUG) log(`worker output:\n${worker.output().slice(-3_000)}`);
  await fresh.drop();
  const ok = report.records.filter((r) => r.status === 204);
  const ids = new Set(ok.map((r) => r.webhookId));
  const last = Math.max(...ok.map((r) => r.at));
  const first = Math.min(...ok.map((r) => r.at));
  const rate = ids.size / ((last - Math.min(t0, first)) / 1000);
  const ratio = rate / l1;
  return {
    case: "1",
    name: "drain backlog, 1 hook",
    driver,
    figure: rate,
    unit: "dlv/s",
    limit: l1,
    ratio,
    goal: "≥ 0.5 × L1",
    met: driver === "mysql" ? drained && ratio >= 0.5 && report.badSignatures === 0 : null,
    note: drained ? undefined : `only ${ids.size} of ${n} delivered in time`,
    details: {
      backlog: n,
      delivered: ids.size,
      requests: report.records.length,
      seconds: (last - Math.min(t0, first)) / 1000,
      badSignatures: report.badSignatures,
      // Server-wide counters: other clients of the same MariaDB add to them (an upper bound).
      ...(before && after ? { queriesPerDelivery: (after.Questions - before.Questions) / ids.size, commitsPerDelivery: (after.Com_commit - before.Com_commit) / ids.size } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Cases 2 and 4: closed-loop writes from 16 clients

interface LoadResult {
  mutations: number;
  mutationsPerSec: number;
  deliveriesPerSec: number;
  /** Backlog (deliveries owed − received) growth per second over the second half of the window. */
  backlogGrowth: number;
  backlogEnd: number;
  drainedMs: number | null;
  failed: number;
}

/** `concurrency` clients run createContact back to back for `ms`; deliveries are counted at the receiver. */
async function writeLoad(ctx: Ctx, stack: Stack, hooks: number, tag: string, ms: number): Promise<LoadResult> {
  // Warm-up: JIT, connection pools, prepared paths.
  await pool(100, ctx.sizes.concurrency, (i) => stack.gql.ok(CREATE_CONTACT, { input: contactInput(`${tag}-warm`, i) }));
  if (hooks) await awaitDelivered(ctx, 100 * hooks, 60_000);
  await ctx.receiver.clear();

  let ok = 0;
  let failed = 0;
  let next = 0;
  const t0 = wallNow();
  const end = t0 + ms;
  const samples: Array<[number, number]> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const at = wallNow();
      const okNow = ok;
      const received = (await ctx.receiver.count()).ok;
      samples.push([(at - t0) / 1000, okNow * hooks - received]);
      await sleep(500);
    }
  })();
  await Promise.all(
    Array.from({ length: ctx.sizes.concurrency }, async () => {
      while (wallNow() < end) {
        try {
          await stack.gql.ok(CREATE_CONTACT, { input: contactInput(tag, next++) });
          ok++;
        } catch (error) {
          if (failed++ === 0) log(`${tag}: a mutation failed: ${String(error)}`);
        }
      }
    }),
  );
  const t1 = wallNow();
  sampling = false;
  await sampler;
  const seconds = (t1 - t0) / 1000;
  let drainedMs: number | null = null;
  if (hooks) {
    const drainStart = Date.now();
    drainedMs = (await awaitDelivered(ctx, ok * hooks, 120_000)) ? Date.now() - drainStart : null;
  }
  const report = await ctx.receiver.report();
  const inWindow = new Set(report.records.filter((r) => r.status === 204 && r.at <= t1).map((r) => r.webhookId)).size;
  const secondHalf = samples.filter(([t]) => t >= seconds / 2);
  return {
    mutations: ok,
    mutationsPerSec: ok / seconds,
    deliveriesPerSec: inWindow / seconds,
    backlogGrowth: slope(secondHalf),
    backlogEnd: samples.at(-1)?.[1] ?? 0,
    drainedMs,
    failed,
  };
}

async function caseFanOutAndWriteCost(ctx: Ctx, driver: Driver, rows: Row[], run2: boolean, run4: boolean, nice: number): Promise<void> {
  const goalCase = driver === "mysql";
  const suffix = driver === "mysql" ? `, worker nice ${nice}` : "";
  let none: LoadResult | null = null;
  if (run4) {
    const stack = await startStack(ctx, driver, { nice });
    none = await writeLoad(ctx, stack, 0, `none-${driver}`, ctx.sizes.loadMs);
    await stack.stop();
    log(`case 4 (${driver}), no hooks: ${none.mutationsPerSec.toFixed(0)} mutations/s`);
  }
  const l1 = run2 ? await freshL1(ctx) : NaN;
  const stack = await startStack(ctx, driver, { nice });
  await createHooks(ctx, stack.gql, `fan-${driver}`, ctx.sizes.hooks);
  const fan = await writeLoad(ctx, stack, ctx.sizes.hooks, `fan-${driver}`, ctx.sizes.loadMs);
  await stack.stop();
  log(`case 2 (${driver}): ${fan.mutationsPerSec.toFixed(0)} mutations/s, ${fan.deliveriesPerSec.toFixed(0)} deliveries/s, backlog ${fan.backlogGrowth.toFixed(1)}/s`);
  if (run2) {
    const ratio = fan.deliveriesPerSec / l1;
    // "Not growing": over the second half of the window the backlog grows by less than 5 % of
    // the delivery rate per second (noise on a shared machine), and it drains afterwards.
    const steady = fan.backlogGrowth <= 0.05 * fan.deliveriesPerSec && fan.drainedMs !== null;
    rows.push({
      case: "2",
      name: `fan-out, ${ctx.sizes.hooks} hooks, ${ctx.sizes.concurrency} clients${suffix}`,
      driver,
      figure: fan.deliveriesPerSec,
      unit: "dlv/s",
      limit: l1,
      ratio,
      goal: "≥ 0.5 × L1, backlog flat",
      met: goalCase ? ratio >= 0.5 && steady : null,
      note: steady ? undefined : "backlog grew",
      details: { ...fan },
    });
  }
  if (run4 && none) {
    const ratio = fan.mutationsPerSec / none.mutationsPerSec;
    rows.push({
      case: "4",
      name: `write cost, ${ctx.sizes.hooks} hooks ÷ none${suffix}`,
      driver,
      figure: fan.mutationsPerSec,
      unit: "mut/s",
      limit: none.mutationsPerSec,
      ratio,
      goal: "≥ 0.9",
      met: goalCase ? ratio >= 0.9 : null,
      details: { withHooks: fan.mutationsPerSec, withoutHooks: none.mutationsPerSec },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Case 3: one hook at a fixed offered rate

/**
 * Case 3: one hook, createContact offered at a fixed rate (open loop) — first the issue's 500/s,
 * then (3b, for information) half the write rate that the first phase achieved, so that the
 * delivery path's own latency shows even when 500/s saturates the write path.
 */
async function caseLatency(ctx: Ctx, driver: Driver): Promise<Row[]> {
  // MySQL: the API and worker processes of cases 2 and 4 (Redis carries the commit notices);
  // SQLite: one process.
  const stack = await startStack(ctx, driver);
  try {
    await createHooks(ctx, stack.gql, `lat-${driver}`, 1);
    await pool(100, 16, (i) => stack.gql.ok(CREATE_CONTACT, { input: contactInput(`lat-${driver}-warm`, i) }));
    await awaitDelivered(ctx, 100, 60_000);
    const first = await offerAt(ctx, stack, ctx.sizes.latencyRate, `lat-${driver}-a`);
    const half = Math.max(5, Math.round(Number(first.details!.mutationsPerSec) / 2));
    const second = await offerAt(ctx, stack, half, `lat-${driver}-b`);
    return [first, { ...second, case: "3b", name: `1 hook at ${half} ev/s (half the write rate): p99`, goal: "p99 < 100 ms (information)", met: null }];
  } finally {
    await stack.stop();
  }
}

async function offerAt(ctx: Ctx, stack: Stack, rate: number, tag: string): Promise<Row> {
  const driver = stack.driver;
  await ctx.receiver.clear();
  const ms = ctx.sizes.latencyMs;
  const maxInFlight = 64;
  let issued = 0;
  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  let skipped = 0;
  /** contact id → when its createContact answered (after its commit). */
  const answeredAt = new Map<string, number>();
  const t0 = wallNow();
  // Open loop: the offered rate does not slow down when Hookcast does; past 64 requests in
  // flight the offer is dropped (counted as skipped) instead of queueing in the client.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = wallNow() - t0;
      const due = Math.min(Math.floor((rate * Math.min(elapsed, ms)) / 1000), (rate * ms) / 1000);
      while (issued + skipped < due) {
        if (inFlight >= maxInFlight) {
          skipped++;
          continue;
        }
        const i = issued++;
        inFlight++;
        stack.gql
          .ok<{ createContact: { id: string } }>(CREATE_CONTACT, { input: contactInput(tag, i) })
          .then(
            (data) => {
              ok++;
              answeredAt.set(data.createContact.id, wallNow());
            },
            () => void failed++,
          )
          .finally(() => inFlight--);
      }
      if (elapsed >= ms && inFlight === 0) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  const writeSeconds = (wallNow() - t0) / 1000;
  const drained = await awaitDelivered(ctx, ok, 60_000);
  const report = await ctx.receiver.report();
  const firstOk = new Map<string, { at: number; eventAt: number; subject: string }>();
  for (const r of report.records) if (r.status === 204 && !firstOk.has(r.webhookId)) firstOk.set(r.webhookId, r);
  // Commit to receive lies between two measurable bounds: from the event's timestamp (taken in
  // the transaction, before its commit: includes the write's own lock wait and commit) and from
  // the mutation's answer (after the commit; negative when the webhook arrived first).
  const latencies = [...firstOk.values()].map((r) => r.at - r.eventAt).filter(Number.isFinite);
  const fromAnswer = [...firstOk.values()].map((r) => r.at - (answeredAt.get(r.subject) ?? NaN)).filter(Number.isFinite);
  const lastAt = Math.max(...[...firstOk.values()].map((r) => r.at));
  const mutationsPerSec = ok / writeSeconds;
  const deliveriesPerSec = firstOk.size / ((lastAt - t0) / 1000);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const keepsUp = drained && deliveriesPerSec >= 0.95 * mutationsPerSec;
  // Both ends read the same system clock (ms): a webhook cannot arrive before its event was
  // stamped, so a latency below -1 ms means the clocks were not comparable and the row is void.
  const clocksAgree = latencies.length > 0 && Math.min(...latencies) >= -1;
  const saturated = mutationsPerSec < 0.9 * rate;
  return {
    case: "3",
    name: `1 hook at ${rate} ev/s offered: p99`,
    driver,
    figure: p99,
    unit: "ms",
    limit: NaN,
    ratio: NaN,
    goal: "p99 < 100 ms, keeps up",
    met: driver === "mysql" ? clocksAgree && p99 < 100 && keepsUp : null,
    note:
      [clocksAgree ? "" : "void: receipt before the event's timestamp (clocks disagree)", keepsUp ? "" : "deliveries fell behind", saturated ? `writes saturated at ${mutationsPerSec.toFixed(0)}/s` : ""]
        .filter(Boolean)
        .join("; ") || undefined,
    details: {
      offered: rate,
      p50,
      p99,
      max: Math.max(...latencies),
      p50FromAnswer: percentile(fromAnswer, 50),
      p99FromAnswer: percentile(fromAnswer, 99),
      mutations: ok,
      failed,
      skipped,
      mutationsPerSec,
      deliveriesPerSec,
      delivered: firstOk.size,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Case 5: live fan-out over graphql-ws

/** The `events` subscription, when the schema has one. */
function eventsSubscription(): string | null {
  const schema = readFileSync(join(ROOT, "schema/schema.graphql"), "utf8");
  const block = /type Subscription \{([\s\S]*?)\n\}/.exec(schema)?.[1] ?? "";
  if (!/\n\s*(""".*?"""\s*)?events\b/s.test(block) && !/\bevents\(/.test(block)) return null;
  return `subscription { events { id type source sequence cursor occurredAt data } }`;
}

/**
 * Case 5. Subscribers are served by one `HOOKCAST_ROLE=api` process (the live process); the
 * event stream comes from Hookcast's own event log in the bench process (`EventLog.change`,
 * 50 events per commit, notices over Redis), so that the live process does nothing but the
 * live fan-out — as the L2 server does nothing but broadcast. The producer keeps at most two
 * commits' worth of events unacknowledged per subscriber (the L2 server's 1 MB high-water mark
 * plays the same part), below the live buffer of 1,000 messages per subscription.
 */
async function caseLiveFanOut(ctx: Ctx): Promise<Row> {
  const base = { case: "5", name: `live fan-out, ${ctx.sizes.wsClients} graphql-ws subscribers`, driver: "mysql" as const, unit: "msg/s", limit: ctx.l2, goal: "≥ 0.5 × L2" };
  const query = eventsSubscription();
  if (!query) return { ...base, figure: NaN, ratio: NaN, met: null, note: "not available (no events subscription yet)" };
  if (!ctx.redis) return { ...base, figure: NaN, ratio: NaN, met: null, note: "not available (needs Redis on 127.0.0.1:6379)" };
  const fresh = await freshDatabase("mysql");
  onCleanup(fresh.drop);
  const channel = `bench-${randomBytes(4).toString("hex")}`;
  const live = await startHookcastProcess({
    databaseUrl: fresh.url,
    role: "api",
    bootstrapKey: BOOTSTRAP_KEY,
    nodeArgs: ctx.nodeArgs,
    // The per-account connection cap (default 100) raised for a fleet of dashboards, as an operator would.
    env: { REDIS_URL: ctx.redis, HOOKCAST_REDIS_CHANNEL: channel, HOOKCAST_LIVE_MAX_CONNECTIONS: String(ctx.sizes.wsClients + 100) },
  });
  const db = await openDb(fresh.url);
  const bus = await RedisEventBus.connect(ctx.redis, channel, silentLogger);
  const eventLog = new EventLog(db, bus, systemClock);
  const account = await db.read((m) => m.findOneOrFail(AccountEntity, { where: {} }));
  const produce = (from: number, count: number) =>
    eventLog.change(account.id, async (change) => {
      for (let i = from; i < from + count; i++) {
        const input = contactInput("live", i);
        const data = { id: `con_live_${i}`, ...input, tags: [], lists: [], bounceCount: 0, bouncedAt: null, createdAt: change.now, updatedAt: change.now };
        change.append({ type: "contact.created", source: "api", data, contactId: `con_live_${i}`, fanout: false });
      }
    });

  const clients = await startWsClients();
  try {
    const url = `${live.url!.replace(/^http/, "ws")}/graphql`;
    const connected = await ask(clients, "connect", { url, count: ctx.sizes.wsClients, mode: "graphql-ws", apiKey: BOOTSTRAP_KEY, query }, 180_000);
    if (!connected.ok) throw new Error(`case 5: subscribers could not connect: ${connected.lastError}`);
    await produce(0, 5); // warm up
    await ask(clients, "await", { total: 5 * ctx.sizes.wsClients, timeoutMs: 30_000 }, 40_000);
    await ask(clients, "reset");

    const batch = 50;
    const events = Math.ceil(ctx.sizes.wsEvents / batch) * batch;
    const total = events * ctx.sizes.wsClients;
    const startedAt = wallNow();
    const deadline = Date.now() + 120_000;
    for (let sent = 0; sent < events; sent += batch) {
      // Wait while more than two commits' worth of events are unacknowledged per subscriber.
      while (Date.now() < deadline) {
        const { received } = await ask<{ received: number }>(clients, "count");
        if (received >= (sent - 2 * batch) * ctx.sizes.wsClients) break;
        await sleep(2);
      }
      await produce(10 + sent, batch);
    }
    const r = await awaitMessages(clients, total, startedAt, 120_000);
    const ratio = r.perSecond / ctx.l2;
    return {
      ...base,
      figure: r.perSecond,
      ratio,
      met: r.received >= total && r.errors === 0 && ratio >= 0.5,
      note: r.received >= total ? undefined : `${r.received} of ${total} messages`,
      details: { events, messages: r.received, seconds: r.seconds, errors: r.errors, lastError: r.lastError },
    };
  } finally {
    await ask(clients, "close").catch(() => {});
    await clients.stop();
    await live.stop();
    await bus.close();
    await db.close();
    await fresh.drop();
  }
}

// ---------------------------------------------------------------------------------------------

/** True when a Redis server answers PING on 127.0.0.1:`port`. */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("data", (d) => {
      socket.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
  });
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const sizes = flags.quick ? QUICK : FULL;
  const wants = (c: string) => !flags.only || flags.only.has(c);
  const profileDir = join(ROOT, "test/bench/profiles");
  if (flags.cpuProf) mkdirSync(profileDir, { recursive: true });
  const receiver = await startReceiverProcess();
  const redis = (await redisAnswers(6379)) ? "redis://127.0.0.1:6379" : null;
  if (!redis) log("Redis does not answer on 127.0.0.1:6379: API and worker processes will find work by polling");
  const ctx: Ctx = { sizes, flags, receiver, nodeArgs: flags.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [], l1: NaN, l2: NaN, redis };
  const rows: Row[] = [];
  const startedAt = new Date();
  const step = async (what: string, fn: () => Promise<void>) => {
    const t = Date.now();
    log(`${what}…`);
    try {
      await fn();
    } catch (error) {
      log(`${what} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      rows.push({ case: what.split(" ")[0], name: what, driver: "-", figure: NaN, unit: "", limit: NaN, ratio: NaN, goal: "", met: false, note: `failed: ${String(error).slice(0, 120)}` });
    }
    log(`${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
  const drivers: Driver[] = flags.sqlite ? ["mysql", "sqlite"] : ["mysql"];

  const needL1 = ["L1", "1", "2"].some(wants);
  const needL2 = ["L2", "5"].some(wants);
  if (needL1) await step("L1 raw POST", async () => void rows.push(await limitL1(ctx)));
  if (needL2) await step("L2 raw ws", async () => void rows.push(await limitL2(ctx)));
  for (const driver of drivers) {
    if (wants("1")) await step(`1 drain (${driver})`, async () => void rows.push(await caseDrain(ctx, driver)));
    if (wants("2") || wants("4")) {
      // On MySQL twice: worker and API at the same priority, then the worker at --worker-nice.
      const niceness = driver === "mysql" ? [...new Set([0, flags.workerNice])] : [0];
      for (const nice of niceness) await step(`2/4 fan-out and write cost (${driver}, nice ${nice})`, () => caseFanOutAndWriteCost(ctx, driver, rows, wants("2"), wants("4"), nice));
    }
    if (wants("3")) await step(`3 latency (${driver})`, async () => void rows.push(...(await caseLatency(ctx, driver))));
  }
  if (wants("5")) await step("5 live fan-out (mysql)", async () => void rows.push(await caseLiveFanOut(ctx)));

  const order = ["L1", "L2", "1", "2", "3", "3b", "4", "5"];
  rows.sort((a, b) => order.indexOf(a.case) - order.indexOf(b.case) || a.driver.localeCompare(b.driver));
  const table = markdownTable(rows);
  const machine = { workerNice: flags.workerNice, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "", loadavg: loadavg(), node: process.version };
  process.stdout.write(`\nHookcast bench ${startedAt.toISOString()}${flags.quick ? " (--quick)" : ""} — ${machine.cpus} cores, ${machine.cpuModel}, node ${machine.node}\n\n${table}\n\n`);
  for (const r of rows) if (r.details) process.stdout.write(`${r.case} ${r.driver}: ${JSON.stringify(r.details)}\n`);
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, `${JSON.stringify({ startedAt: startedAt.toISOString(), quick: flags.quick, sizes, machine, rows }, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${flags.out}\n`);
  const goalRows = rows.filter((r) => r.met !== null);
  const missed = goalRows.filter((r) => r.met === false);
  process.stdout.write(`goals met: ${goalRows.length - missed.length} of ${goalRows.length}${missed.length ? ` (missed: ${missed.map((r) => `${r.case} ${r.driver}`).join(", ")})` : ""}\n`);
  // A missed goal is a finding, reported in the table; a case that could not run fails the bench.
  return rows.some((r) => r.note?.startsWith("failed:")) ? 1 : 0;
}

runMain(main);
