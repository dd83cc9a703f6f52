/**
 * Limits of the live stream (issue 5): a consumer that stops reading is closed with 4408 and
 * resumes with `after` while another keeps receiving; keepalive pings; the per-account
 * connection cap (4429); the subprotocol; sockets closed with 1001 on shutdown.
 */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { EVENT_FIELDS } from "../helpers/graphql.js";
import { collect, disposeLiveClients, liveClient, pauseReading, wsUrl } from "../helpers/live.js";

const EVENTS = `subscription($after: String) { events(after: $after) { ${EVENT_FIELDS} } }`;

let apps: TestApp[] = [];

afterEach(async () => {
  await disposeLiveClients();
  for (const t of apps.splice(0)) await t.stop();
});

async function start(driver: (typeof DRIVERS)[number], env: Record<string, string> = {}): Promise<TestApp> {
  const t = await startTestApp(driver, { env });
  apps.push(t);
  return t;
}

async function accountId(t: TestApp): Promise<string> {
  return (await t.ok(`{ me { id } }`)).me.id;
}

/** Appends `count` contact.created events of about 16 KB each through the event log, 50 per transaction. */
async function appendBig(t: TestApp, account: string, count: number, from: number): Promise<void> {
  const filler = "x".repeat(16_000);
  for (let i = 0; i < count; i += 50) {
    await t.app.deps.eventLog.change(account, async (change) => {
      for (let j = i; j < Math.min(count, i + 50); j++) change.append({ type: "contact.created", source: "api", data: { id: `con_big_${from + j}`, email: `big-${from + j}@example.com`, fields: { filler } } });
    });
  }
}

describe.each(DRIVERS)("live stream limits on %s", (driver) => {
  it("a consumer that stops reading is closed with 4408 and resumes with after; another is not held back", async () => {
    const t = await start(driver, { HOOKCAST_LIVE_BUFFER: "50" });
    const account = await accountId(t);
    const slow = liveClient(t.url, t.apiKey);
    const fast = liveClient(t.url, t.apiKey);
    const slowStream = collect(slow, EVENTS);
    const fastStream = collect(fast, EVENTS);
    await waitFor(() => t.app.live!.hub.liveCount === 2);
    // The slow consumer stops reading its socket: its kernel buffers fill, then its 50 messages.
    pauseReading(slow);
    let produced = 0;
    while (t.app.live!.hub.subscriptionCount === 2) {
      if (produced >= 6_000) throw new Error("the slow consumer was never closed");
      await appendBig(t, account, 100, produced);
      produced += 100;
      // The fast one keeps receiving everything, batch after batch, while the slow one is paused.
      await waitFor(() => fastStream.items.length === produced, { timeoutMs: 20_000, message: `fast got ${fastStream.items.length} of ${produced}; ${JSON.stringify(fast.closes)}` });
    }
    expect(fastStream.items.map((e) => e.sequence)).toEqual(Array.from({ length: produced }, (_, i) => i + 1));
    expect(fast.closes).toEqual([]);

    // Reading again, the slow one finds what was buffered, then the close: 4408.
    pauseReading(slow, false);
    await slowStream.done;
    expect(slow.closes[0]?.code).toBe(4408);
    const got = slowStream.items.length;
    expect(got).toBeLessThan(produced);
    expect(slowStream.items.map((e) => e.sequence)).toEqual(Array.from({ length: got }, (_, i) => i + 1));

    // It resumes after its last cursor and gets the rest: no gap, no duplicate.
    const again = liveClient(t.url, t.apiKey);
    const rest = collect(again, EVENTS, { after: got ? slowStream.items[got - 1].cursor : null });
    await waitFor(() => rest.items.length === produced - got, { timeoutMs: 30_000 });
    expect([...slowStream.items, ...rest.items].map((e) => e.sequence)).toEqual(Array.from({ length: produced }, (_, i) => i + 1));
  }, 120_000);

  it("pings every HOOKCAST_LIVE_KEEPALIVE and caps connections per account (4429)", async () => {
    const t = await start(driver, { HOOKCAST_LIVE_KEEPALIVE: "100ms", HOOKCAST_LIVE_MAX_CONNECTIONS: "2" });
    const other = await t.newAccount("other");
    const clients = [liveClient(t.url, t.apiKey), liveClient(t.url, t.apiKey)];
    const streams = clients.map((c) => collect(c, EVENTS));
    await waitFor(() => t.app.live!.hub.liveCount === 2);
    let pings = 0;
    clients[0].socket()!.on("ping", () => pings++);
    await waitFor(() => pings >= 2, { message: "keepalive pings" });

    const third = liveClient(t.url, t.apiKey);
    const refused = collect(third, EVENTS);
    await refused.done;
    expect(third.closes[0]).toMatchObject({ code: 4429 });
    // Other accounts have their own cap; a closed connection frees its slot.
    const ofOther = liveClient(t.url, other.apiKey);
    collect(ofOther, EVENTS);
    await waitFor(() => t.app.live!.hub.liveCount === 3);
    await clients[1].dispose();
    await waitFor(() => t.app.live!.hub.liveCount === 2);
    const fourth = liveClient(t.url, t.apiKey);
    collect(fourth, EVENTS);
    await waitFor(() => t.app.live!.hub.liveCount === 3);
    expect(streams[0].errors).toEqual([]);
  });

  it("speaks graphql-transport-ws only, at /graphql only", async () => {
    const t = await start(driver);
    // Without graphql-transport-ws the server answers the upgrade without a subprotocol, and
    // graphql-ws closes the socket with 4406.
    const plain = new WebSocket(wsUrl(t.url));
    expect(await new Promise<number>((resolve) => plain.on("close", (c) => resolve(c)))).toBe(4406);
    // A client that insists on the legacy subscriptions-transport-ws protocol cannot connect.
    const legacy = new WebSocket(wsUrl(t.url), "graphql-ws");
    const refused = await new Promise<string>((resolve) => {
      legacy.on("error", (error) => resolve(error.message));
      legacy.on("open", () => resolve("opened"));
    });
    expect(refused).toMatch(/subprotocol/i);
    const elsewhere = new WebSocket(`${wsUrl(t.url)}/other`, "graphql-transport-ws");
    const status = await new Promise<number>((resolve) => {
      elsewhere.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      elsewhere.on("error", () => resolve(-1));
    });
    expect(status).toBe(404);
  });

  it("closes every socket with 1001 on shutdown", async () => {
    const t = await start(driver);
    const clients = [liveClient(t.url, t.apiKey), liveClient(t.url, t.apiKey)];
    const streams = clients.map((c) => collect(c, EVENTS));
    await waitFor(() => t.app.live!.hub.liveCount === 2);
    await t.stop();
    await Promise.all(streams.map((s) => s.done));
    for (const c of clients) expect(c.closes[0]?.code).toBe(1001);
  });
});
