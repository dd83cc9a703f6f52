/**
 * The live stream across processes (issue 5): two real server processes (`node dist/src/main.js`)
 * on one MariaDB database and one Redis; a mutation on one reaches a graphql-ws subscriber of the
 * other. Redis is only the wake-up: a process that misses the notice still streams the event
 * from the log at its safety poll. Delivery states written by a worker process reach a
 * `deliveryUpdates` subscriber of an API process.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { BOOTSTRAP_KEY, waitFor } from "../helpers/app.js";
import { EVENT_FIELDS } from "../helpers/graphql.js";
import { collect, disposeLiveClients, liveClient } from "../helpers/live.js";
import { createMysqlDatabase } from "../helpers/mysql.js";
import { killWorkerProcesses, startWorkerProcess } from "../helpers/processes.js";
import { scrape, valueOf } from "../helpers/prometheus.js";
import { startReceiver } from "../helpers/receiver.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REDIS_URL = process.env.HOOKCAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const EVENTS = `subscription($after: String) { events(after: $after) { ${EVENT_FIELDS} } }`;

interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<unknown>> = [];

/** Starts `node dist/src/main.js` on port 0 and resolves with its URL (from its start log line). */
async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", HOOKCAST_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY, HOOKCAST_ROLE: "api", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const url = await waitFor(() => /"url":"(http:\/\/[^"]+)\/graphql"/.exec(output)?.[1], { timeoutMs: 20_000, message: "server start" }).catch((error) => {
    throw new Error(`${error.message}: ${output}`);
  });
  return { child, url, output: () => output.slice(-4_000) };
}

async function gql(url: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${BOOTSTRAP_KEY}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

beforeAll(() => {
  execFileSync("npx", ["tsc", "-p", "."], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

afterEach(async () => {
  await disposeLiveClients();
  await killWorkerProcesses();
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

describe("live stream across processes with Redis (MySQL)", () => {
  it("a mutation on one process reaches a subscriber of the other through Redis", async () => {
    const db = await createMysqlDatabase();
    cleanups.push(db.drop);
    // A unique channel per test: parallel suites on one Redis never hear each other.
    const channel = `hc_test_${randomBytes(6).toString("hex")}`;
    // The safety poll is an hour: only the Redis notice can deliver within the test.
    const env = { DATABASE_URL: db.url, REDIS_URL, HOOKCAST_REDIS_CHANNEL: channel, HOOKCAST_LIVE_POLL: "1h" };
    const a = await startServer(env);
    const b = await startServer(env);

    // The notice really goes through Redis, on this test's channel.
    const spy = new Redis(REDIS_URL);
    cleanups.push(() => spy.quit());
    const heard: string[] = [];
    spy.on("message", (ch: string) => heard.push(ch));
    await spy.subscribe(`${channel}:events`);

    const live = liveClient(b.url, BOOTSTRAP_KEY);
    const stream = collect(live, EVENTS);
    // No "subscribed" message in graphql-ws: a first mutation on b itself tells when b streams.
    await waitFor(async () => {
      await gql(b.url, `mutation($e: String!) { createContact(input: { email: $e }) { id } }`, { e: `probe-${randomBytes(4).toString("hex")}@example.com` });
      return stream.items.length > 0;
    }, { timeoutMs: 15_000, intervalMs: 300 });
    const before = stream.items.length;

    const created = await gql(a.url, `mutation { createContact(input: { email: "cross@example.com", firstName: "Cross" }) { id email } }`);
    await waitFor(() => stream.items.some((e) => e.data.id === created.createContact.id), { timeoutMs: 15_000, message: `${a.output()}\n${b.output()}` });
    const event = stream.items.find((e) => e.data.id === created.createContact.id);
    expect(event.type).toBe("contact.created");
    expect(event.data.email).toBe("cross@example.com");
    // In order, no gap: each streamed sequence follows the previous one.
    const sequences = stream.items.map((e) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => sequences[0] + i));
    expect(stream.items.length).toBeGreaterThan(before);
    expect(heard).toContain(`${channel}:events`);
    expect(stream.errors).toEqual([]);
  }, 60_000);

  it("a lost Redis notice is caught by the safety poll of the log", async () => {
    const db = await createMysqlDatabase();
    cleanups.push(db.drop);
    // a and b publish on different channels: b never hears a's notices, as if Redis lost them.
    const base = { DATABASE_URL: db.url, REDIS_URL, HOOKCAST_LIVE_POLL: "200ms" };
    const a = await startServer({ ...base, HOOKCAST_REDIS_CHANNEL: `hc_test_${randomBytes(6).toString("hex")}` });
    const b = await startServer({ ...base, HOOKCAST_REDIS_CHANNEL: `hc_test_${randomBytes(6).toString("hex")}` });

    const live = liveClient(b.url, BOOTSTRAP_KEY);
    const stream = collect(live, EVENTS);
    // b's own mutation tells when its subscription is live (b hears its own notices).
    await waitFor(async () => {
      await gql(b.url, `mutation($e: String!) { createContact(input: { email: $e }) { id } }`, { e: `probe-${randomBytes(4).toString("hex")}@example.com` });
      return stream.items.length > 0;
    }, { timeoutMs: 15_000, intervalMs: 300 });
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push((await gql(a.url, `mutation($e: String!) { createContact(input: { email: $e }) { id } }`, { e: `lost-${i}@example.com` })).createContact.id);
    await waitFor(() => created.every((id) => stream.items.some((e) => e.data.id === id)), { timeoutMs: 15_000, message: b.output() });
    const fromA = stream.items.filter((e) => created.includes(e.data.id));
    expect(fromA.map((e) => e.data.id)).toEqual(created);
    const sequences = stream.items.map((e) => e.sequence);
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => sequences[0] + i));
  }, 60_000);
  it("deliveryUpdates: a worker process's retry and delivery reach a subscriber of an API process", async () => {
    const db = await createMysqlDatabase();
    cleanups.push(db.drop);
    const channel = `hc_test_${randomBytes(6).toString("hex")}`;
    const shared = { DATABASE_URL: db.url, REDIS_URL, HOOKCAST_REDIS_CHANNEL: channel };
    // The API process sends nothing (role api): every delivery state comes from the worker.
    const api = await startServer({ ...shared, HOOKCAST_ALLOW_PRIVATE_TARGETS: "true" });
    const worker = startWorkerProcess("dist/src/main.js", db.url, { ...shared, HOOKCAST_RETRY_SCHEDULE: "200ms" });
    const receiver = await startReceiver();
    cleanups.push(() => receiver.stop());
    receiver.answer = (_req, index) => (index === 0 ? { status: 500, body: "try again" } : { status: 204 });

    const spy = new Redis(REDIS_URL);
    cleanups.push(() => spy.quit());
    const heard: any[] = [];
    spy.on("message", (_ch: string, message: string) => heard.push(JSON.parse(message).n));
    await spy.subscribe(`${channel}:deliveries`);

    const hook = (await gql(api.url, `mutation($url: String!) { createHook(input: { url: $url, events: ["*"] }) { hook { id status } } }`, { url: `${receiver.url}/hook` })).createHook.hook;
    expect(hook.status).toBe("ACTIVE");
    const live = liveClient(api.url, BOOTSTRAP_KEY);
    const updates = collect(live, `subscription { deliveryUpdates { id status attemptCount nextAttemptAt deliveredAt lastStatusCode lastError event { id } hook { id } } }`);
    await waitFor(async () => valueOf(await scrape(api.url), "hookcast_live_subscriptions") === 1, { message: "subscription open on the API process" });

    const created = (await gql(api.url, `mutation { createContact(input: { email: "dash@example.com" }) { id } }`)).createContact;
    const failures = () => `${api.output()}\n${worker.output()}`;
    await waitFor(() => updates.items.some((d) => d.status === "DELIVERED"), { timeoutMs: 20_000, message: failures() });

    expect(receiver.webhooks).toHaveLength(2);
    const [first, second] = receiver.webhooks;
    expect(first.json.data.id).toBe(created.id);
    const webhookId = first.headers["webhook-id"];
    expect(second.headers["webhook-id"]).toBe(webhookId);
    expect(updates.items.map((d) => [d.id, d.status, d.attemptCount, d.lastStatusCode, d.lastError])).toEqual([
      [webhookId, "FAILED", 1, 500, "HTTP 500: try again"],
      [webhookId, "DELIVERED", 2, 204, null],
    ]);
    expect(updates.items[0].nextAttemptAt).not.toBeNull();
    expect(updates.items[0].deliveredAt).toBeNull();
    expect(updates.items[1].deliveredAt).not.toBeNull();
    for (const d of updates.items) expect([d.event.id, d.hook.id]).toEqual([first.json.id, hook.id]);
    // Both states crossed Redis on this test's channel.
    await waitFor(() => heard.length >= 2);
    expect(heard.flatMap((n) => n.deliveries.map((d: { id: string; status: string }) => [d.id, d.status]))).toEqual([
      [webhookId, "FAILED"],
      [webhookId, "DELIVERED"],
    ]);
    expect(updates.errors).toEqual([]);
  }, 60_000);
});
