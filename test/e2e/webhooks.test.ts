import { afterEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { ManualClock } from "../../src/shared/clock.js";
import { verifyWebhook } from "../../src/index.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { selectAll } from "../helpers/graphql.js";
import { HookEntity } from "../../src/hooks/index.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

const CONTACT_FIELDS =
  "id email firstName lastName phone fields tags lists { list { id name createdAt } status subscribedAt unsubscribedAt } bounceCount bouncedAt createdAt updatedAt";
const HOOK_FIELDS = "id url status verificationError events sources listId stats { delivered failed pending dead lastDeliveredAt lastFailureAt lastError consecutiveFailures }";

describe.each(DRIVERS)("webhooks on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup(env: Record<string, string> = {}, overrides = {}): Promise<{ t: TestApp; r: Receiver }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_RETRY_SCHEDULE: "100ms,100ms,100ms", ...env }, overrides });
    cleanups.push(() => t.stop());
    return { t, r };
  }

  async function createHook(t: TestApp, input: Record<string, unknown>) {
    const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { secret hook { ${HOOK_FIELDS} } } }`, { input });
    return data.createHook as { secret: string; hook: any };
  }

  async function newContact(t: TestApp, email: string) {
    return (await t.ok(`mutation($email: String!) { createContact(input: { email: $email, firstName: "Ada" }) { id } }`, { email })).createContact.id as string;
  }

  async function deliveries(t: TestApp, hookId: string) {
    const data = await t.ok(
      `query($hookId: ID!) { deliveries(hookId: $hookId, first: 100) { edges { node { id status attemptCount nextAttemptAt deliveredAt lastStatusCode lastError
        attempts { attemptNumber statusCode error responseExcerpt durationMs startedAt } event { id type } hook { id } } } } }`,
      { hookId },
    );
    return data.deliveries.edges.map((e: any) => e.node) as any[];
  }

  it("delivers a contact change, signed, with the full contact as the API renders it", async () => {
    const { t, r } = await setup();
    const { hook, secret } = await createHook(t, { url: `${r.url}/hook`, name: "crm" });
    expect(hook.status).toBe("ACTIVE");
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(r.handshakes).toHaveLength(1);

    const id = await newContact(t, "ada@example.com");
    const got = await waitFor(() => r.webhooks[0]);
    // The standardwebhooks package, not our code, verifies the signature.
    const verified = new Webhook(secret).verify(got.body, {
      "webhook-id": got.headers["webhook-id"] as string,
      "webhook-timestamp": got.headers["webhook-timestamp"] as string,
      "webhook-signature": got.headers["webhook-signature"] as string,
    }) as any;
    expect(verified.type).toBe("contact.created");
    expect(verified.source).toBe("api");
    expect(verified.sequence).toBe(1);
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["user-agent"]).toMatch(/^Hookcast\//);
    const contact = (await t.ok(`query($id: ID!) { contact(id: $id) { ${CONTACT_FIELDS} } }`, { id })).contact;
    expect(verified.data).toEqual(contact);
    const events = (await t.ok(`{ events { edges { node { id type source sequence occurredAt data } } } }`)).events.edges.map((e: any) => e.node);
    const event = events.find((e: any) => e.type === "contact.created");
    expect(verified.id).toBe(event.id);
    expect(verified.timestamp).toBe(event.occurredAt);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(got.body, got.headers as any)).toThrow();

    const [d] = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list[0]?.status === "DELIVERED" ? list : null;
    });
    expect(got.headers["webhook-id"]).toBe(d.id);
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0].statusCode).toBe(204);
    expect(d.event.id).toBe(event.id);
    const stats = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { delivered pending failed dead lastDeliveredAt } } }`, { id: hook.id })).hook.stats;
    expect(stats).toMatchObject({ delivered: 1, pending: 0, failed: 0, dead: 0 });
    expect(stats.lastDeliveredAt).not.toBeNull();
  });

  it("filters by event type, source and list", async () => {
    const { t, r } = await setup();
    const list = (await t.ok(`mutation { createList(input: { name: "news" }) { id } }`)).createList.id;
    const byType = await createHook(t, { url: `${r.url}/type`, events: ["contact.tag_added"] });
    const bySource = await createHook(t, { url: `${r.url}/system`, sources: ["SYSTEM"] });
    const byList = await createHook(t, { url: `${r.url}/list`, listId: list, events: ["contact.updated", "contact.subscribed"] });
    expect([byType, bySource, byList].map((h) => h.hook.status)).toEqual(["ACTIVE", "ACTIVE", "ACTIVE"]);

    const a = await newContact(t, "a@example.com");
    const b = await newContact(t, "b@example.com");
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "vip") { id } }`, { c: a });
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: b });
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: a, l: list });
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { lastName: "L" }) { id } }`, { c: a });
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { lastName: "M" }) { id } }`, { c: b });
    // A marker event that every hook with "*" would get, to know the stream has been processed.
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: a });

    await waitFor(() => r.webhooks.filter((w) => w.path === "/system").length === 2);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/list").length === 2);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/type").length === 1);
    const seen = (path: string) => r.webhooks.filter((w) => w.path === path).map((w) => [w.json.type, w.json.data.id]);
    expect(seen("/type")).toEqual([["contact.tag_added", a]]);
    expect(seen("/system").sort()).toEqual([["contact.bounced", a], ["contact.bounced", b]].sort());
    expect(r.webhooks.filter((w) => w.path === "/system").every((w) => w.json.source === "system")).toBe(true);
    expect(seen("/list").sort()).toEqual([["contact.subscribed", a], ["contact.updated", a]].sort());
  });

  it("verifies intent: success, wrong echo, no echo, then verifyHook", async () => {
    const { t, r } = await setup();
    r.handshake = "wrong";
    const wrong = await createHook(t, { url: `${r.url}/w` });
    expect(wrong.hook.status).toBe("PENDING_VERIFICATION");
    expect(wrong.hook.verificationError).toMatch(/different X-Hook-Secret/);
    r.handshake = "none";
    const none = await createHook(t, { url: `${r.url}/n` });
    expect(none.hook.status).toBe("PENDING_VERIFICATION");
    expect(none.hook.verificationError).toMatch(/without echoing/);
    r.handshake = "fail";
    const failed = await createHook(t, { url: `${r.url}/f` });
    expect(failed.hook.verificationError).toMatch(/HTTP 500/);

    // A pending hook receives nothing.
    await newContact(t, "x@example.com");
    r.handshake = "echo";
    const ok = await createHook(t, { url: `${r.url}/ok` });
    await newContact(t, "y@example.com");
    await waitFor(() => r.webhooks.some((w) => w.path === "/ok"));
    expect(r.webhooks.filter((w) => w.path !== "/ok")).toHaveLength(0);
    expect(r.webhooks.filter((w) => w.path === "/ok").map((w) => w.json.data.email)).toEqual(["y@example.com"]);

    const verified = await t.ok(`mutation($id: ID!) { verifyHook(id: $id) { status verificationError } }`, { id: none.hook.id });
    expect(verified.verifyHook).toEqual({ status: "ACTIVE", verificationError: null });
    const again = await t.gql(`mutation($id: ID!) { verifyHook(id: $id) { status } }`, { id: ok.hook.id });
    expect(again.errors?.[0].extensions?.code).toBe("HOOK_NOT_VERIFIABLE");

    // A new URL goes through verification again.
    r.handshake = "none";
    const moved = await t.ok(`mutation($id: ID!, $url: String!) { updateHook(id: $id, input: { url: $url }) { status url } }`, { id: ok.hook.id, url: `${r.url}/moved` });
    expect(moved.updateHook).toEqual({ status: "PENDING_VERIFICATION", url: `${r.url}/moved` });
  });

  it("rejects bad URLs and filters with clear codes", async () => {
    const { t, r } = await setup();
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ url: "ftp://example.com/x" }, "HOOK_URL_INVALID", "input.url"],
      [{ url: "/relative" }, "HOOK_URL_INVALID", "input.url"],
      [{ url: "http://user:pw@example.com/" }, "HOOK_URL_INVALID", "input.url"],
      [{ url: `http://example.com/${"a".repeat(2048)}` }, "HOOK_URL_INVALID", "input.url"],
      [{ url: `${r.url}/x`, events: ["contact.exploded"] }, "BAD_USER_INPUT", "input.events"],
      [{ url: `${r.url}/x`, events: [] }, "BAD_USER_INPUT", "input.events"],
      [{ url: `${r.url}/x`, listId: "lst_nope" }, "NOT_FOUND", "input.listId"],
    ];
    for (const [input, code, field] of cases) {
      const res = await t.gql(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input });
      expect(res.errors?.[0].extensions, JSON.stringify(input).slice(0, 80)).toMatchObject({ code, field });
    }
    expect((await t.ok(`{ hooks { id } }`)).hooks).toHaveLength(0);
  });

  it("retries a 500 and delivers on the next attempt, with the same webhook-id and a fresh signature", async () => {
    const { t, r } = await setup();
    r.answer = (_req, i) => (i === 0 ? { status: 500, body: "boom" } : { status: 200 });
    const { hook } = await createHook(t, { url: `${r.url}/h` });
    await newContact(t, "retry@example.com");
    await waitFor(() => r.webhooks.length >= 2);
    expect(r.webhooks[0].headers["webhook-id"]).toBe(r.webhooks[1].headers["webhook-id"]);
    expect(r.webhooks[0].body).toBe(r.webhooks[1].body);
    const [d] = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list[0]?.status === "DELIVERED" ? list : null;
    });
    expect(d.attemptCount).toBe(2);
    expect(d.attempts.map((a: any) => a.statusCode)).toEqual([500, 200]);
    expect(d.attempts[0].responseExcerpt).toBe("boom");
  });

  it("gives up after the schedule: DEAD, then redeliver sends it again with the same id", async () => {
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: "50ms,50ms" });
    r.answer = () => ({ status: 503 });
    const { hook } = await createHook(t, { url: `${r.url}/h` });
    await newContact(t, "dead@example.com");
    const [d] = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list[0]?.status === "DEAD" ? list : null;
    });
    expect(d.attemptCount).toBe(3);
    expect(d.lastError).toMatch(/HTTP 503/);
    const stats = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { dead consecutiveFailures lastError lastFailureAt } } }`, { id: hook.id })).hook.stats;
    expect(stats).toMatchObject({ dead: 1, consecutiveFailures: 3 });

    r.answer = () => ({ status: 200 });
    const re = await t.ok(`mutation($id: ID!) { redeliver(deliveryId: $id) { id status } }`, { id: d.id });
    expect(re.redeliver.id).toBe(d.id);
    await waitFor(() => r.webhooks.length === 4);
    expect(new Set(r.webhooks.map((w) => w.headers["webhook-id"]))).toEqual(new Set([d.id]));
    const after = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list[0]?.status === "DELIVERED" ? list[0] : null;
    });
    expect(after.attemptCount).toBe(4);
  });

  it("records timeouts and connection resets as failed attempts and retries them", async () => {
    const { t, r } = await setup({ HOOKCAST_REQUEST_TIMEOUT: "300ms" });
    r.answer = (_req, i) => (i === 0 ? { hang: true } : i === 1 ? { reset: true } : { status: 200 });
    const { hook } = await createHook(t, { url: `${r.url}/h` });
    await newContact(t, "slow@example.com");
    const d = await waitFor(async () => {
      const list = await deliveries(t, hook.id);
      return list[0]?.status === "DELIVERED" ? list[0] : null;
    });
    expect(d.attempts.map((a: any) => a.statusCode)).toEqual([null, null, 200]);
    expect(d.attempts[0].error).toMatch(/timeout/);
    expect(d.attempts[0].durationMs).toBeGreaterThanOrEqual(250);
    expect(d.attempts[1].error).toMatch(/reset|socket|closed/);
  });

  it("honours Retry-After over the schedule", async () => {
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: "50ms,50ms" });
    r.answer = (_req, i) => (i === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 });
    const { hook } = await createHook(t, { url: `${r.url}/h` });
    await newContact(t, "later@example.com");
    await waitFor(() => r.webhooks.length === 2, { timeoutMs: 5_000 });
    const gap = r.webhooks[1].at - r.webhooks[0].at;
    expect(gap).toBeGreaterThanOrEqual(950);
    const d = (await deliveries(t, hook.id))[0];
    expect(d.attempts[0].statusCode).toBe(429);
  });

  it("never follows a redirect, and reads at most 64 KB of a 10 MB response", async () => {
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: "5s" });
    r.answer = (req) => (req.path === "/redirect" ? { status: 302, headers: { location: `${r.url}/elsewhere` } } : req.path === "/big" ? { bigBody: 10 * 1024 * 1024 } : { status: 204 });
    const redirect = await createHook(t, { url: `${r.url}/redirect`, events: ["contact.created"] });
    const big = await createHook(t, { url: `${r.url}/big`, events: ["contact.created"] });
    await newContact(t, "hostile@example.com");
    const [dr] = await waitFor(async () => {
      const list = await deliveries(t, redirect.hook.id);
      return list[0]?.attemptCount === 1 ? list : null;
    });
    expect(dr.status).toBe("FAILED");
    expect(dr.attempts[0].statusCode).toBe(302);
    expect(r.webhooks.some((w) => w.path === "/elsewhere")).toBe(false);

    const [db] = await waitFor(async () => {
      const list = await deliveries(t, big.hook.id);
      return list[0]?.status === "DELIVERED" ? list : null;
    });
    expect(db.attempts[0].statusCode).toBe(200);
    expect(db.attempts[0].responseExcerpt.length).toBe(2048);
    // The receiver could not push the whole 10 MB: the client stopped reading and closed.
    await waitFor(() => r.bigBodyBytesWritten.length === 1 && r.bigBodyBytesWritten[0] > 0);
    expect(r.bigBodyBytesWritten[0]).toBeLessThan(10 * 1024 * 1024);
  });

  it("deletes the hook on 410 Gone: pending deliveries cancelled, hook.deleted event, history kept", async () => {
    const { t, r } = await setup();
    const gone = await createHook(t, { url: `${r.url}/gone`, events: ["contact.created"] });
    const watcher = await createHook(t, { url: `${r.url}/watch`, events: ["hook.deleted"] });
    r.answer = (req) => (req.path === "/gone" ? { status: 410 } : { status: 204 });
    await t.ok(`mutation { pauseHook(id: "${gone.hook.id}") { status } }`);
    await newContact(t, "one@example.com");
    await newContact(t, "two@example.com");
    await t.ok(`mutation { resumeHook(id: "${gone.hook.id}") { status } }`);
    const deleted = await waitFor(() => r.webhooks.find((w) => w.path === "/watch"));
    expect(deleted.json.type).toBe("hook.deleted");
    expect(deleted.json.source).toBe("system");
    expect(deleted.json.data.hook.id).toBe(gone.hook.id);
    expect(deleted.json.data.reason).toMatch(/410/);

    const lookup = await t.gql(`query($id: ID!) { hook(id: $id) { id } }`, { id: gone.hook.id });
    expect(lookup.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    expect((await t.ok(`{ hooks { id } }`)).hooks.map((h: any) => h.id)).toEqual([watcher.hook.id]);
    const history = await deliveries(t, gone.hook.id);
    expect(history).toHaveLength(2);
    expect(history.every((d) => d.status === "CANCELLED")).toBe(true);
    expect(history.reduce((n, d) => n + d.attemptCount, 0)).toBeGreaterThanOrEqual(1);
    const sentToGone = r.webhooks.filter((w) => w.path === "/gone").length;
    await newContact(t, "three@example.com");
    await t.ok(`mutation { recordBounce(contactId: "${await newContact(t, "four@example.com")}") { id } }`);
    await waitFor(async () => (await t.ok(`{ events(first: 500) { edges { node { type } } } }`)).events.edges.length >= 6);
    // Fan-out ran for the later events (the watcher is still alive), yet the deleted hook got nothing more.
    expect(r.webhooks.filter((w) => w.path === "/gone").length).toBe(sentToGone);
  });

  it("pause queues, resume sends; pingHook reaches one hook only; replayEvents re-enqueues", async () => {
    const { t, r } = await setup();
    const a = await createHook(t, { url: `${r.url}/a` });
    const b = await createHook(t, { url: `${r.url}/b` });
    const paused = await t.ok(`mutation($id: ID!) { pauseHook(id: $id) { status } }`, { id: a.hook.id });
    expect(paused.pauseHook.status).toBe("PAUSED");
    await newContact(t, "p1@example.com");
    await newContact(t, "p2@example.com");
    await waitFor(() => r.webhooks.filter((w) => w.path === "/b").length === 2);
    expect(r.webhooks.filter((w) => w.path === "/a")).toHaveLength(0);
    const queued = (await t.ok(`query($id: ID!) { hook(id: $id) { stats { pending } } }`, { id: a.hook.id })).hook.stats;
    expect(queued.pending).toBe(2);
    // Parked: queued, but with no due time until the hook is resumed.
    expect((await deliveries(t, a.hook.id)).map((d) => [d.status, d.nextAttemptAt])).toEqual([["PENDING", null], ["PENDING", null]]);
    await t.ok(`mutation($id: ID!) { resumeHook(id: $id) { status } }`, { id: a.hook.id });
    await waitFor(() => r.webhooks.filter((w) => w.path === "/a").length === 2);
    expect(r.webhooks.filter((w) => w.path === "/a").map((w) => w.json.sequence)).toEqual([1, 2]);

    const ping = await t.ok(`mutation($id: ID!) { pingHook(id: $id) { id event { type } } }`, { id: b.hook.id });
    expect(ping.pingHook.event.type).toBe("hook.ping");
    await waitFor(() => r.webhooks.some((w) => w.json?.type === "hook.ping"));
    expect(r.webhooks.filter((w) => w.json?.type === "hook.ping").map((w) => w.path)).toEqual(["/b"]);

    const before = r.webhooks.filter((w) => w.path === "/a").length;
    const replayed = await t.ok(`mutation($id: ID!) { replayEvents(hookId: $id) }`, { id: a.hook.id });
    expect(replayed.replayEvents).toBe(2);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/a").length === before + 2);
    const ids = r.webhooks.filter((w) => w.path === "/a").map((w) => w.headers["webhook-id"]);
    // Replays keep the delivery ids, so receivers can deduplicate.
    expect(new Set(ids).size).toBe(2);
  });

  it("disables a hook whose every attempt failed for HOOKCAST_DISABLE_AFTER (injected clock)", async () => {
    const clock = new ManualClock(new Date("2026-06-01T00:00:00.000Z"));
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: "1m,1m,1m,1m,1m", HOOKCAST_DISABLE_AFTER: "1h" }, { clock });
    r.answer = () => ({ status: 500 });
    const { hook } = await createHook(t, { url: `${r.url}/h`, events: ["contact.created"] });
    const watcher = await createHook(t, { url: `${r.url}/watch`, events: ["hook.disabled"] });
    expect(watcher.hook.status).toBe("ACTIVE");
    await newContact(t, "fail@example.com");
    await waitFor(() => r.webhooks.filter((w) => w.path === "/h").length === 1);
    let h = (await t.ok(`query($id: ID!) { hook(id: $id) { status stats { consecutiveFailures } } }`, { id: hook.id })).hook;
    expect(h.status).toBe("ACTIVE");
    clock.advance(2 * 60_000);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/h").length === 2);
    h = (await t.ok(`query($id: ID!) { hook(id: $id) { status } }`, { id: hook.id })).hook;
    expect(h.status).toBe("ACTIVE");
    clock.advance(2 * 3_600_000);
    await waitFor(() => r.webhooks.filter((w) => w.path === "/h").length === 3);
    h = await waitFor(async () => {
      const x = (await t.ok(`query($id: ID!) { hook(id: $id) { status disabledReason } }`, { id: hook.id })).hook;
      return x.status === "DISABLED" ? x : null;
    });
    expect(h.disabledReason).toMatch(/failed/);
    const note = await waitFor(() => r.webhooks.find((w) => w.path === "/watch"));
    expect(note.json.type).toBe("hook.disabled");
    // Nobody's key disabled it: the platform did.
    expect(note.json.source).toBe("system");

    // Disabled: new events are not delivered to it; resume brings it back.
    r.answer = () => ({ status: 200 });
    await newContact(t, "later@example.com");
    clock.advance(3_600_000);
    const resumed = await t.ok(`mutation($id: ID!) { resumeHook(id: $id) { status } }`, { id: hook.id });
    expect(resumed.resumeHook.status).toBe("ACTIVE");
    await newContact(t, "after@example.com");
    await waitFor(() => r.webhooks.some((w) => w.path === "/h" && w.json.data.email === "after@example.com"));
    expect(r.webhooks.some((w) => w.path === "/h" && w.json.data.email === "later@example.com")).toBe(false);
  });

  it("rotates the signing secret: both secrets sign during the grace period, then only the new one", async () => {
    const { t, r } = await setup();
    const { hook, secret: oldSecret } = await createHook(t, { url: `${r.url}/h`, events: ["contact.created"] });
    const rotated = await t.ok(`mutation($id: ID!) { rotateHookSecret(id: $id, gracePeriodSeconds: 3600) { secret hook { id } } }`, { id: hook.id });
    const newSecret = rotated.rotateHookSecret.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    await newContact(t, "rot1@example.com");
    const first = await waitFor(() => r.webhooks[0]);
    expect((first.headers["webhook-signature"] as string).split(" ")).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) expect(() => verifyWebhook(first.headers, first.body, secret)).not.toThrow();

    const ended = await t.ok(`mutation($id: ID!) { rotateHookSecret(id: $id, gracePeriodSeconds: 0) { secret } }`, { id: hook.id });
    await newContact(t, "rot2@example.com");
    const second = await waitFor(() => r.webhooks[1]);
    expect((second.headers["webhook-signature"] as string).split(" ")).toHaveLength(1);
    expect(() => verifyWebhook(second.headers, second.body, ended.rotateHookSecret.secret)).not.toThrow();
    expect(() => verifyWebhook(second.headers, second.body, newSecret)).toThrow();

    const bad = await t.gql(`mutation($id: ID!) { rotateHookSecret(id: $id, gracePeriodSeconds: -1) { secret } }`, { id: hook.id });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "gracePeriodSeconds" });
  });

  it("rotateHookSecret without gracePeriodSeconds: the old secret signs for 24 h and not after (injected clock)", async () => {
    const clock = new ManualClock(new Date());
    const { t, r } = await setup({}, { clock });
    const { hook, secret: oldSecret } = await createHook(t, { url: `${r.url}/g`, events: ["contact.created"] });
    const newSecret = (await t.ok(`mutation($id: ID!) { rotateHookSecret(id: $id) { secret } }`, { id: hook.id })).rotateHookSecret.secret;
    const rotatedAt = clock.now();
    const DAY = 86_400_000;

    /** The webhook-signature entries standardwebhooks computes for `secrets` over a received request. */
    const expectedSignatures = (got: { headers: Record<string, unknown>; body: string }, secrets: string[]) => {
      const at = new Date(Number(got.headers["webhook-timestamp"]) * 1_000);
      return secrets.map((secret) => new Webhook(secret).sign(got.headers["webhook-id"] as string, at, got.body)).sort();
    };
    const sentAt = async (offsetMs: number, email: string) => {
      clock.set(new Date(rotatedAt.getTime() + offsetMs));
      await newContact(t, email);
      const got = await waitFor(() => r.webhooks.find((w) => w.json?.data?.email === email));
      // Signed at the injected time, so the signature set is the one for that moment.
      expect(Number(got.headers["webhook-timestamp"])).toBe(Math.floor(clock.now().getTime() / 1_000));
      return { headers: got.headers as Record<string, unknown>, body: got.body, signatures: (got.headers["webhook-signature"] as string).split(" ").sort() };
    };

    const justBefore = await sentAt(DAY - 1_000, "before@example.com");
    expect(justBefore.signatures).toEqual(expectedSignatures(justBefore, [newSecret, oldSecret]));
    const justAfter = await sentAt(DAY + 1_000, "after@example.com");
    expect(justAfter.signatures).toEqual(expectedSignatures(justAfter, [newSecret]));
  });

  it("a secret is shown by createHook and rotateHookSecret only: no field of the schema reachable from a hook ever carries it", async () => {
    const { t, r } = await setup();
    // Every field of Hook, Delivery, Event and what they reach, as the running schema has them:
    // a field added later that renders a secret is selected here too.
    const hookAll = await selectAll(t, "Hook");
    const deliveryAll = await selectAll(t, "Delivery");
    const eventConnAll = await selectAll(t, "EventConnection");
    const deliveryConnAll = await selectAll(t, "DeliveryConnection");
    for (const part of ["stats {", "batch {", "verificationError", "selection"]) expect(hookAll).toContain(part);
    for (const part of ["hook {", "event {", "attempts {", "requestBody"]) expect(deliveryAll).toContain(part);

    const created = (await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { secret hook { ${hookAll} } } }`, { input: { url: `${r.url}/s`, name: "secretive" } })).createHook;
    const hookId: string = created.hook.id;
    const secrets: string[] = [created.secret];
    // What is stored is what must not come out (the secret, and its key without the prefix).
    const stored = async () => t.app.deps.db.read((m) => m.findOneByOrFail(HookEntity, { id: hookId }));
    expect((await stored()).signingSecret).toBe(created.secret);

    const expectNoSecret = (answer: unknown, what: string) => {
      const text = JSON.stringify(answer);
      expect(text, what).not.toMatch(/whsec_/);
      for (const secret of secrets) expect(text, what).not.toContain(secret.slice("whsec_".length));
    };
    expectNoSecret(created.hook, "createHook's hook");

    /** Everything that renders the hook, its deliveries and events, with every field. */
    const answersAbout = async (): Promise<Array<[string, unknown]>> => {
      const deliveries = await t.ok(`query($h: ID!) { deliveries(hookId: $h, first: 100) { ${deliveryConnAll} } }`, { h: hookId });
      const deliveryIds: string[] = deliveries.deliveries.edges.map((e: any) => e.node.id);
      expect(deliveryIds.length).toBeGreaterThan(0);
      return [
        ["hook", await t.ok(`query($id: ID!) { hook(id: $id) { ${hookAll} } }`, { id: hookId })],
        ["hooks", await t.ok(`{ hooks { ${hookAll} } }`)],
        ["deliveries", deliveries],
        ...(await Promise.all(deliveryIds.map(async (id): Promise<[string, unknown]> => [`delivery(${id})`, await t.ok(`query($id: ID!) { delivery(id: $id) { ${deliveryAll} } }`, { id })]))),
        ["events", await t.ok(`{ events(first: 500) { ${eventConnAll} } }`)],
        ["updateHook", await t.ok(`mutation($id: ID!) { updateHook(id: $id, input: { name: "still secretive" }) { ${hookAll} } }`, { id: hookId })],
        ["pauseHook", await t.ok(`mutation($id: ID!) { pauseHook(id: $id) { ${hookAll} } }`, { id: hookId })],
        ["resumeHook", await t.ok(`mutation($id: ID!) { resumeHook(id: $id) { ${hookAll} } }`, { id: hookId })],
        // An ACTIVE hook is not verifiable: the error answer must not carry it either.
        ["verifyHook", await t.gql(`mutation($id: ID!) { verifyHook(id: $id) { ${hookAll} } }`, { id: hookId })],
        ["pingHook", await t.ok(`mutation($id: ID!) { pingHook(id: $id) { ${deliveryAll} } }`, { id: hookId })],
      ];
    };

    await newContact(t, "secret1@example.com");
    await waitFor(() => r.webhooks.some((w) => w.json?.data?.email === "secret1@example.com"));
    for (const [what, answer] of await answersAbout()) expectNoSecret(answer, `before rotation: ${what}`);

    // Rotation (default grace period): both secrets are now stored and sign; neither comes out.
    const rotated = (await t.ok(`mutation($id: ID!) { rotateHookSecret(id: $id) { secret hook { ${hookAll} } } }`, { id: hookId })).rotateHookSecret;
    secrets.push(rotated.secret);
    expect(await stored()).toMatchObject({ signingSecret: rotated.secret, previousSecret: created.secret });
    expectNoSecret(rotated.hook, "rotateHookSecret's hook");
    await newContact(t, "secret2@example.com");
    const signedTwice = await waitFor(() => r.webhooks.find((w) => w.json?.data?.email === "secret2@example.com"));
    for (const secret of secrets) expect(() => verifyWebhook(signedTwice.headers, signedTwice.body, secret)).not.toThrow();
    for (const [what, answer] of await answersAbout()) expectNoSecret(answer, `after rotation: ${what}`);
  });
});
