/**
 * Order of delivery and batching across two real worker processes on MySQL (issue 6, items 4
 * and 5): an in-process API appends events while two `node <build>/src/main.js` workers fan out
 * and deliver them to a real receiver that fails some requests. PER_CONTACT must reach the
 * receiver in sequence order per contact, STRICT in sequence order for the hook, a batched
 * PER_CONTACT hook the same, batch by batch — with nothing lost, never two requests of one
 * ordering key open at once, and both workers delivering (the receiver tells them apart by the
 * remote port of each request, mapped to a worker through Linux /proc).
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createConnection, type Connection } from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { createMysqlDatabase } from "../helpers/mysql.js";
import { connectionPortsOf, killWorkerProcesses, startWorkerProcess, type WorkerProcess } from "../helpers/processes.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/**
 * The worker build of this suite, in its own directory (as cli.test.ts does): `tsc` rewrites
 * every file it emits, so compiling into `dist/` could break processes another suite runs from it.
 */
const BUILD = `test/.artifacts/order-build-${process.pid}`;

/** An envelope as the receiver saw it, in one request. */
interface Seen {
  hook: string;
  webhookId: string;
  sequence: number;
  contact: string;
  /** Whether the request carrying it was answered 2xx. */
  ok: boolean;
  /** Which request (arrival number) carried it. */
  request: number;
  /** Index of the worker process that sent the request (in {@link OrderReceiver.workers}), -1 if none. */
  worker: number;
}

/**
 * A receiver on 127.0.0.1:0 that echoes handshakes, unpacks single and batch bodies, answers
 * every `failEvery`-th request of each hook 500 (so that retries interleave with new work), and
 * records ordering keys seen with two requests open at once (per contact, and per hook for
 * `/strict`). Each new connection is attributed to the worker process (of `workers`) holding its
 * other end, so every request says which worker sent it.
 */
class OrderReceiver {
  readonly seen: Seen[] = [];
  readonly overlaps: string[] = [];
  private readonly open = new Map<string, number>();
  private readonly counters = new Map<string, number>();
  private requests = 0;
  /** Remote port of an open connection → index of the worker that opened it. */
  private readonly workerOf = new Map<number, number>();
  private server!: Server;
  url = "";
  port = 0;
  /** PIDs of the worker processes, in the order their requests are numbered. */
  workers: number[] = [];

  constructor(private readonly failEvery: number) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    // At accept time the client's socket is open in its process, so /proc names the process.
    this.server.on("connection", (socket) => {
      const remote = socket.remotePort ?? 0;
      const worker = this.workers.findIndex((pid) => connectionPortsOf(pid, this.port).has(remote));
      if (worker >= 0) this.workerOf.set(remote, worker);
      else this.workerOf.delete(remote);
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Envelopes of `hook` (retries included), in arrival order. */
  of(hook: string, contact?: string): Seen[] {
    return this.seen.filter((s) => s.hook === hook && (contact === undefined || s.contact === contact));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const secret = req.headers["x-hook-secret"];
    if (typeof secret === "string") {
      req.resume();
      res.writeHead(200, { "x-hook-secret": secret }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const hook = (req.url ?? "/").slice(1);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { batch?: unknown[] };
      const envelopes = (body.batch ?? [body]) as Array<{ sequence: number; data: { id: string } }>;
      // The unordered hook ("none") may well have several requests of one contact open at once.
      const keys = hook === "none" ? [] : [...new Set(hook === "strict" ? ["strict"] : envelopes.map((e) => `${hook}:${e.data.id}`))];
      for (const key of keys) {
        const n = (this.open.get(key) ?? 0) + 1;
        this.open.set(key, n);
        if (n > 1) this.overlaps.push(key);
      }
      const count = (this.counters.get(hook) ?? 0) + 1;
      this.counters.set(hook, count);
      const ok = count % this.failEvery !== 0;
      const webhookId = String(req.headers["webhook-id"]);
      const request = this.requests++;
      const worker = this.workerOf.get(req.socket.remotePort ?? 0) ?? -1;
      for (const e of envelopes) this.seen.push({ hook, webhookId, sequence: e.sequence, contact: e.data.id, ok, request, worker });
      setTimeout(
        () => {
          for (const key of keys) this.open.set(key, (this.open.get(key) ?? 1) - 1);
          res.writeHead(ok ? 200 : 500).end(ok ? "ok" : "try again");
        },
        2 + Math.floor(Math.random() * 4),
      );
    });
  }
}

/** A worker of this suite's build on `databaseUrl`, with enough retries that nothing goes DEAD. */
function startWorker(databaseUrl: string, env: Record<string, string> = {}): WorkerProcess {
  return startWorkerProcess(`${BUILD}/src/main.js`, databaseUrl, { HOOKCAST_RETRY_SCHEDULE: Array(20).fill("50ms").join(","), ...env });
}

async function rows<T>(sql: Connection, query: string, params: unknown[] = []): Promise<T[]> {
  const [result] = await sql.query(query, params);
  return result as T[];
}

/**
 * Asserts the receiver's view of one ordered stream, request by request (a batch carries several
 * envelopes, possibly several of one contact): a request never goes back in sequence — it is
 * either the previous one again (a retry, or a resend) or wholly after it — and the accepted
 * envelopes are exactly `expected`, in order. With `resent` (a worker was killed), an accepted
 * request may come again right after itself: one whose answer the dead worker never recorded is
 * sent again, before anything later.
 */
function expectOrdered(got: Seen[], expected: number[], label: string, resent = false): void {
  const requests: Array<{ sequences: number[]; ok: boolean }> = [];
  for (let i = 0; i < got.length; i++) {
    if (i === 0 || got[i].request !== got[i - 1].request) requests.push({ sequences: [], ok: got[i].ok });
    requests[requests.length - 1].sequences.push(got[i].sequence);
  }
  const same = (x: number[], y: number[]) => x.join(",") === y.join(",");
  for (let i = 1; i < requests.length; i++) {
    const [prev, next] = [requests[i - 1].sequences, requests[i].sequences];
    const shown = requests.slice(Math.max(0, i - 3), i + 2).map((r) => `[${r.sequences.join(",")}]`).join(" ");
    expect(same(prev, next) || next[0] > prev[prev.length - 1], `${label}: went back at request ${i}: ${shown}`).toBe(true);
  }
  const accepted = requests.filter((r) => r.ok);
  const once = resent ? accepted.filter((r, i) => i === 0 || !same(r.sequences, accepted[i - 1].sequences)) : accepted;
  expect(once.flatMap((r) => r.sequences), label).toEqual(expected);
}

const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(() => {
  // The workers run the compiled entry point, as `npm run worker` does.
  execFileSync(process.execPath, [`${ROOT}/node_modules/typescript/bin/tsc`, "-p", "tsconfig.json", "--outDir", BUILD], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

afterEach(async () => {
  await killWorkerProcesses();
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

afterAll(async () => {
  await killWorkerProcesses();
  rmSync(`${ROOT}/${BUILD}`, { recursive: true, force: true });
});

/** The contact events of this suite: what the hooks subscribe to and the producers write. */
const TYPES = ["contact.created", "contact.updated", "contact.tag_added"];

/**
 * 16 contacts × 10 `contact.updated` appended through the event log, in small transactions
 * that mix contacts (the outbox path without one HTTP round trip and commit per event: enough
 * events, fast enough, for both workers to fan out and claim concurrently). Returns the count.
 */
async function produceThroughEventLog(t: TestApp, sql: Connection): Promise<number> {
  const [{ id: accountId }] = await rows<{ id: string }>(sql, "SELECT id FROM accounts ORDER BY id LIMIT 1");
  const contacts = Array.from({ length: 16 }, (_, i) => `con_order_${String(i).padStart(2, "0")}`);
  for (let round = 0; round < 10; round++) {
    for (let half = 0; half < 2; half++) {
      await t.app.deps.eventLog.change(accountId, async (change) => {
        for (const id of contacts.slice(half * 8, half * 8 + 8)) {
          change.append({ type: "contact.updated", source: "api", data: { id, round }, contactId: id });
        }
      });
    }
  }
  return 160;
}

/**
 * 12 contacts, each created with `createContact`, then updated (`updateContact`) and tagged
 * (`tagContact`) in turn over HTTP: 8 events per contact, the contacts' chains running
 * concurrently, so that their events interleave in the log. Returns the count.
 */
async function produceThroughApi(t: TestApp): Promise<number> {
  const contacts = 12;
  const rounds = 7;
  await Promise.all(
    Array.from({ length: contacts }, async (_, i) => {
      const id = (await t.ok(`mutation($e: String!) { createContact(input: { email: $e }) { id } }`, { e: `order-${i}@example.com` })).createContact.id as string;
      for (let round = 0; round < rounds; round++) {
        if (round % 2 === 0) await t.ok(`mutation($id: ID!, $n: String!) { updateContact(id: $id, input: { lastName: $n }) { id } }`, { id, n: `r${round}` });
        else await t.ok(`mutation($id: ID!, $tag: String!) { tagContact(contactId: $id, tag: $tag) { id } }`, { id, tag: `t${round}` });
      }
    }),
  );
  return contacts * (1 + rounds);
}

/** What a scenario changes: worker settings, and what to do to the workers while they run. */
interface Scenario {
  /** Writes the events (while the workers run) and returns how many; default {@link produceThroughEventLog}. */
  produce?: (t: TestApp, sql: Connection) => Promise<number>;
  env?: Record<string, string>;
  /** Runs once the events are appended (e.g. kill a worker mid-stream). */
  during?: (workers: WorkerProcess[], receiver: OrderReceiver) => Promise<void>;
  /** Whether a killed worker may have left requests to be sent again. */
  resent?: boolean;
}

/**
 * Two workers, four hooks (PER_CONTACT, STRICT, batched PER_CONTACT, NONE), the scenario's
 * events produced while the workers run, a receiver failing every 5th request per hook; then the
 * receiver's order, completeness, who sent it, and the database are checked.
 */
async function runScenario(scenario: Scenario): Promise<void> {
    const db = await createMysqlDatabase();
    cleanups.push(db.drop);
    const t: TestApp = await startTestApp("mysql", { databaseUrl: db.url, env: { HOOKCAST_ROLE: "api" } });
    cleanups.push(() => t.stop());
    const receiver = await new OrderReceiver(5).start();
    cleanups.push(() => receiver.stop());
    const sql = await createConnection({ uri: db.url });
    cleanups.push(() => sql.end());

    const hooks: Array<[string, Record<string, unknown>]> = [
      ["per-contact", { ordering: "PER_CONTACT" }],
      ["strict", { ordering: "STRICT" }],
      ["batched", { ordering: "PER_CONTACT", batch: { maxSize: 8, maxWaitMs: 30 } }],
      ["none", {}],
    ];
    for (const [name, extra] of hooks) {
      const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id status } } }`, {
        input: { url: `${receiver.url}/${name}`, events: TYPES, ...extra },
      });
      expect(data.createHook.hook.status).toBe("ACTIVE");
    }

    const workers = [startWorker(db.url, scenario.env), startWorker(db.url, scenario.env)];
    receiver.workers = workers.map((w) => w.child.pid!);
    const count = await (scenario.produce ?? produceThroughEventLog)(t, sql);
    const events = await rows<{ sequence: number; contact_id: string }>(sql, "SELECT sequence, contact_id FROM events WHERE type IN (?) ORDER BY sequence", [TYPES]);
    expect(events).toHaveLength(count);
    const contacts = [...new Set(events.map((e) => e.contact_id))];
    expect(contacts.length).toBeGreaterThan(1);
    const sequencesOf = (contact?: string) => events.filter((e) => contact === undefined || e.contact_id === contact).map((e) => Number(e.sequence));

    await scenario.during?.(workers, receiver);
    const accepted = (hook: string) => new Set(receiver.of(hook).filter((s) => s.ok).map((s) => s.sequence)).size;
    await waitFor(() => hooks.every(([name]) => accepted(name) === count), { timeoutMs: 90_000, intervalMs: 50 }).catch((error: Error) => {
      throw new Error(`${error.message}: ${hooks.map(([n]) => `${n}=${accepted(n)}`).join(" ")}; ${workers.map((w) => w.output()).join("\n")}`);
    });

    for (const contact of contacts) {
      expectOrdered(receiver.of("per-contact", contact), sequencesOf(contact), `per-contact ${contact}`, scenario.resent);
      expectOrdered(receiver.of("batched", contact), sequencesOf(contact), `batched ${contact}`, scenario.resent);
    }
    expectOrdered(receiver.of("strict"), sequencesOf(), "strict", scenario.resent);
    // Every request came from one of the two workers (the API process only sends handshakes),
    // and both had envelopes accepted: the order held across processes, not inside one.
    expect(receiver.seen.filter((s) => s.worker < 0), "requests from no known worker").toEqual([]);
    const acceptedBy = workers.map((_, i) => receiver.seen.filter((s) => s.ok && s.worker === i).length);
    expect(acceptedBy.every((n) => n > 0), `envelopes accepted per worker: ${acceptedBy.join(", ")}`).toBe(true);
    // Never two requests of one key open at once (one contact, or the whole STRICT hook).
    expect(receiver.overlaps).toEqual([]);
    // Retries did happen on every hook, so the order held across them.
    for (const [name] of hooks) expect(receiver.of(name).some((s) => !s.ok), name).toBe(true);
    // Batches carried several envelopes, each batch's members in sequence order, and a batch was
    // never split: every request with one webhook-id (retries, resends) carried the same envelopes.
    const requests = new Map<number, Seen[]>();
    for (const s of receiver.of("batched")) requests.set(s.request, [...(requests.get(s.request) ?? []), s]);
    const contents = new Map<string, Set<string>>();
    for (const envelopes of requests.values()) {
      const sequences = envelopes.map((e) => e.sequence);
      expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
      const id = envelopes[0].webhookId;
      contents.set(id, (contents.get(id) ?? new Set()).add(sequences.join(",")));
    }
    expect([...requests.values()].some((r) => r.length > 1)).toBe(true);
    for (const [id, variants] of contents) expect([...variants], id).toHaveLength(1);

    // The database agrees: every delivery DELIVERED, none twice.
    await waitFor(async () => (await rows<{ n: number }>(sql, "SELECT COUNT(*) AS n FROM deliveries WHERE status <> 'DELIVERED'"))[0].n == 0, { timeoutMs: 10_000 });
    expect(await rows(sql, "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")).toEqual([{ status: "DELIVERED", n: hooks.length * count }]);
    for (const w of workers.filter((x) => x.child.signalCode === null)) {
      expect(w.child.exitCode, w.output()).toBeNull();
      expect(w.output(), "no errors logged").not.toMatch(/"level":(50|60)/);
    }
}

describe("order of delivery across two worker processes on MySQL", () => {
  it("PER_CONTACT, STRICT and batched PER_CONTACT: receive order equals sequence order, across retries, nothing lost", async () => {
    await runScenario({});
  }, 150_000);

  it("a worker killed mid-stream (SIGKILL): the other takes over when the lease ends, order still holds", async () => {
    await runScenario({
      env: { HOOKCAST_REQUEST_TIMEOUT: "2s", HOOKCAST_LEASE: "3s" },
      resent: true,
      during: async (workers, receiver) => {
        await waitFor(() => receiver.of("strict").filter((s) => s.ok).length >= 30, { timeoutMs: 30_000, intervalMs: 20 });
        workers[0].child.kill("SIGKILL");
        await workers[0].exited;
        const killedAt = receiver.seen.length;
        // Mid-stream: the STRICT stream was far from done, and the killed worker had taken part.
        expect(receiver.of("strict").filter((s) => s.ok).length).toBeLessThan(160);
        expect(receiver.seen.filter((s) => s.ok && s.worker === 0).length, "accepted from the killed worker").toBeGreaterThan(0);
        // The survivor takes over: it delivers after the kill.
        await waitFor(() => receiver.seen.slice(killedAt).some((s) => s.ok && s.worker === 1), { timeoutMs: 30_000, intervalMs: 20 });
      },
    });
  }, 150_000);

  it("real createContact/updateContact/tagContact mutations over HTTP: PER_CONTACT and STRICT hold across both workers", async () => {
    await runScenario({ produce: (t) => produceThroughApi(t) });
  }, 150_000);
});
