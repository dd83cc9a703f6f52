/**
 * The live stream over graphql-ws (issue 5), with a real graphql-ws client on a real server, on
 * SQLite and MySQL: the envelope, filters, replay-then-live under concurrent writes, auth,
 * isolation between accounts, delivery updates, the connection cap and shutdown.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { allEvents, createContact, createList, EVENT_FIELDS, eventsPage, type EventNode } from "../helpers/graphql.js";
import { collect, disposeLiveClients, liveClient } from "../helpers/live.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

const EVENTS = `subscription($types: [String!], $sources: [EventSource!], $after: String) { events(types: $types, sources: $sources, after: $after) { ${EVENT_FIELDS} } }`;
const DELIVERIES = `subscription($hookId: ID) { deliveryUpdates(hookId: $hookId) { id status attemptCount nextAttemptAt deliveredAt lastStatusCode event { id type } hook { id } } }`;

let apps: TestApp[] = [];
let receivers: Receiver[] = [];

afterEach(async () => {
  await disposeLiveClients();
  for (const t of apps.splice(0)) await t.stop();
  for (const r of receivers.splice(0)) await r.stop();
});

async function start(driver: (typeof DRIVERS)[number], env: Record<string, string> = {}): Promise<TestApp> {
  const t = await startTestApp(driver, { env });
  apps.push(t);
  return t;
}

/** Waits until the server has `n` live subscriptions (replays over, joined the live readers). */
function liveSubscriptions(t: TestApp, n: number): Promise<unknown> {
  return waitFor(() => t.app.live!.hub.liveCount === n, { message: `expected ${n} live subscriptions, have ${t.app.live!.hub.liveCount}` });
}

/**
 * The webhook body an `Event` must equal, key for key: `occurredAt` is called `timestamp` there,
 * and a null `listId` or `tag` is left out; every other field has the same name and value.
 */
function asWebhookBody(event: EventNode): Record<string, unknown> {
  const { occurredAt, listId, tag, ...same } = event;
  return { ...same, timestamp: occurredAt, ...(listId !== null ? { listId } : {}), ...(tag !== null ? { tag } : {}) };
}

async function createHook(t: TestApp, url: string, apiKey?: string): Promise<string> {
  const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id status } } }`, { input: { url, events: ["*"] } }, apiKey);
  expect(data.createHook.hook.status).toBe("ACTIVE");
  return data.createHook.hook.id;
}

describe.each(DRIVERS)("live stream over graphql-ws on %s", (driver) => {
  it("a mutation's event arrives with the webhook's envelope, equal to the events query's node", async () => {
    const t = await start(driver);
    // The subscription selects every field of Event: a field added to it is compared below too.
    const eventType = await t.ok(`{ __type(name: "Event") { fields { name } } }`);
    expect(eventType.__type.fields.map((f: { name: string }) => f.name).sort()).toEqual(EVENT_FIELDS.split(" ").sort());
    const receiver = await startReceiver();
    receivers.push(receiver);
    await createHook(t, `${receiver.url}/hook`);
    const live = liveClient(t.url, t.apiKey);
    const stream = collect(live, EVENTS);
    await liveSubscriptions(t, 1);

    // One event of each envelope shape: neither listId nor tag (a contact, a list), listId, tag.
    const contact = await createContact(t, { email: "ada@example.com", firstName: "Ada" });
    const list = await createList(t, "news");
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: contact.id, l: list.id });
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "vip") { id } }`, { c: contact.id });
    await waitFor(() => stream.items.length >= 4 && receiver.webhooks.length >= 4);
    expect(stream.items.map((e) => e.type)).toEqual(["contact.created", "list.created", "contact.subscribed", "contact.tag_added"]);
    expect(stream.items[0].data).toEqual(contact);
    expect(stream.items[1].data).toMatchObject(list);
    expect(stream.items[2].listId).toBe(list.id);
    expect(stream.items[3].tag).toBe("vip");
    for (const event of stream.items) {
      const webhook = receiver.webhooks.find((w) => w.json?.id === event.id);
      expect(webhook, `no webhook for ${event.id}`).toBeDefined();
      // The whole body, not chosen fields: a stray or missing key on either side fails.
      expect(webhook!.json).toStrictEqual(asWebhookBody(event));
    }
    // ... and the same node as the events query.
    const nodes = await allEvents(t);
    for (const event of stream.items) expect(nodes.find((n) => n.id === event.id)).toEqual(event);
    expect(stream.errors).toEqual([]);
  });

  it("filters by type and by source", async () => {
    const t = await start(driver);
    const live = liveClient(t.url, t.apiKey);
    const byType = collect(live, EVENTS, { types: ["contact.tag_added"] });
    const bySource = collect(live, EVENTS, { sources: ["SYSTEM"] });
    const all = collect(live, EVENTS);
    await liveSubscriptions(t, 3);

    const c = await createContact(t, { email: "f@example.com" });
    await t.ok(`mutation($id: ID!) { tagContact(contactId: $id, tag: "vip") { id } }`, { id: c.id });
    await t.ok(`mutation($id: ID!) { recordBounce(contactId: $id) { id } }`, { id: c.id });
    await waitFor(() => all.items.length >= 3);
    expect(all.items.map((e) => e.type)).toEqual(["contact.created", "contact.tag_added", "contact.bounced"]);
    await waitFor(() => byType.items.length >= 1 && bySource.items.length >= 1);
    expect(byType.items.map((e) => [e.type, e.tag])).toEqual([["contact.tag_added", "vip"]]);
    expect(bySource.items.map((e) => [e.type, e.source])).toEqual([["contact.bounced", "system"]]);

    // Filters and cursors are validated like the events query's.
    const badType = collect(live, EVENTS, { types: ["contact.nope"] });
    const badCursor = collect(live, EVENTS, { after: "not-a-cursor" });
    await Promise.all([badType.done, badCursor.done]);
    expect((badType.errors[0] as any).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "types" });
    expect((badCursor.errors[0] as any).extensions).toMatchObject({ code: "INVALID_CURSOR" });
    // The filtered streams saw nothing else.
    expect(byType.items).toHaveLength(1);
    expect(bySource.items).toHaveLength(1);
  });

  it("holds the GraphQL limits of HTTP over the socket: tokens, depth, aliases, cost", async () => {
    const t = await start(driver, {
      HOOKCAST_GRAPHQL_MAX_TOKENS: "60",
      HOOKCAST_GRAPHQL_MAX_DEPTH: "4",
      HOOKCAST_GRAPHQL_MAX_ALIASES: "2",
      HOOKCAST_GRAPHQL_MAX_COST: "500",
    });
    const live = liveClient(t.url, t.apiKey);
    const refused = async (query: string, variables: Record<string, unknown> = {}) => {
      const stream = collect(live, query, variables);
      await stream.done;
      expect(stream.items).toEqual([]);
      return (stream.errors.flat()[0] as any)?.extensions?.code;
    };
    expect(await refused(`subscription { events { ${"id ".repeat(80)} } }`)).toBe("TOO_MANY_TOKENS");
    expect(await refused(`subscription { events { id deliveries: data } }`.replace("deliveries: data", "a: id b: id c: id"))).toBe("TOO_MANY_ALIASES");
    expect(await refused(`query { contacts(first: 10) { edges { node { lists { list { id } } } } } }`)).toBe("QUERY_TOO_DEEP");
    expect(await refused(`query($n: Int) { events(first: $n) { edges { cursor } } }`, { n: 500 })).toBe("QUERY_TOO_COMPLEX");
    // Within the limits the same socket still serves.
    const ok = collect(live, `subscription { events { id type } }`);
    await liveSubscriptions(t, 1);
    await createContact(t, { email: "limits@example.com" });
    await waitFor(() => ok.items.length === 1);
    expect(ok.items[0].type).toBe("contact.created");
  });

  it("resumes with after under concurrent writes: replay then live, no gap and no duplicate", async () => {
    const t = await start(driver, { HOOKCAST_LIVE_BUFFER: "20" });
    for (let i = 0; i < 30; i++) await createContact(t, { email: `before-${i}@example.com` });
    const early = (await eventsPage(t, { first: 5 })).pageInfo.endCursor!;

    // Writers keep committing while the subscriber replays and switches to live.
    let writing = true;
    let written = 0;
    const writers = Array.from({ length: 3 }, (_, w) =>
      (async () => {
        for (let i = 0; writing; i++) {
          await createContact(t, { email: `during-${w}-${i}@example.com` });
          written++;
        }
      })(),
    );
    const live = liveClient(t.url, t.apiKey);
    const first = collect(live, EVENTS, { after: early });
    await waitFor(() => first.items.length >= 40 && written >= 15, { timeoutMs: 20_000 });
    // The first consumer goes away mid-stream; a second resumes after its last cursor.
    first.stop();
    const seen = [...first.items];
    const second = collect(live, EVENTS, { after: seen[seen.length - 1].cursor });
    await waitFor(() => second.items.length >= 10, { timeoutMs: 20_000 });
    writing = false;
    await Promise.all(writers);
    const log = await allEvents(t);
    const last = log[log.length - 1].sequence;
    await waitFor(() => second.items.length > 0 && second.items[second.items.length - 1].sequence === last, { timeoutMs: 20_000 });

    const sequences = [...seen, ...second.items].map((e) => e.sequence);
    const expected = log.filter((e) => e.sequence > 5).map((e) => e.sequence);
    expect(sequences).toEqual(expected);
    // What was streamed is exactly the log.
    const byId = new Map(log.map((e) => [e.id, e]));
    for (const e of [...seen, ...second.items]) expect(e).toEqual(byId.get(e.id));
    expect(first.errors).toEqual([]);
    expect(second.errors).toEqual([]);
  }, 60_000);

  it("a missing or bad API key closes with 4403", async () => {
    const t = await start(driver);
    for (const key of [null, "hc_not_a_real_key_0123456789"]) {
      const live = liveClient(t.url, key);
      const stream = collect(live, EVENTS);
      await stream.done;
      expect(live.closes[0]?.code).toBe(4403);
      expect(stream.items).toEqual([]);
    }
  });

  it("isolates accounts: B never sees A's events, even after A's cursor; A's hook is not found for B", async () => {
    const t = await start(driver);
    const receiver = await startReceiver();
    receivers.push(receiver);
    const b = await t.newAccount("B");
    const hookOfA = await createHook(t, `${receiver.url}/a`);
    await createContact(t, { email: "a1@example.com" });
    const cursorOfA = (await eventsPage(t, { first: 500 })).pageInfo.endCursor!;

    const liveB = liveClient(t.url, b.apiKey);
    const fromNow = collect(liveB, EVENTS);
    const fromStart = collect(liveB, EVENTS, { after: null });
    const afterACursor = collect(liveB, EVENTS, { after: cursorOfA });
    const hookUpdates = collect(liveB, DELIVERIES, { hookId: hookOfA });
    await hookUpdates.done;
    expect((hookUpdates.errors[0] as any).extensions).toMatchObject({ code: "NOT_FOUND", field: "hookId" });
    expect(hookUpdates.items).toEqual([]);
    const allUpdates = collect(liveB, DELIVERIES);
    // A's own dashboard: once it has seen A's deliveries, B's would have seen them too if leaked.
    const updatesOfA = collect(liveClient(t.url, t.apiKey), DELIVERIES);
    await liveSubscriptions(t, 5);

    for (let i = 0; i < 5; i++) await createContact(t, { email: `a-${i}@example.com` });
    const eventsOfA = (await allEvents(t)).filter((e) => /^a-\d@/.test(e.data.email ?? "")).map((e) => e.id);
    expect(eventsOfA).toHaveLength(5);
    await waitFor(() => eventsOfA.every((id) => updatesOfA.items.some((d) => d.event.id === id && d.status === "DELIVERED")), { timeoutMs: 15_000 });

    // B's log: as many events as A's cursor's sequence, plus one; only that last one is after it.
    const afterSequence = (await eventsPage(t, { first: 500 })).edges.find((e) => e.cursor === cursorOfA)!.node.sequence;
    const ofB: string[] = [];
    for (let i = 0; i <= afterSequence; i++) ofB.push((await createContact(t, { email: `b-${i}@example.com` }, b.apiKey)).id);
    await waitFor(() => fromNow.items.length >= ofB.length && fromStart.items.length >= ofB.length && afterACursor.items.length >= 1);
    for (const s of [fromNow, fromStart]) expect(s.items.map((e) => e.data.id)).toEqual(ofB);
    // A's cursor, given by B, means B's own sequence: B's events after it, nothing of A's.
    expect(afterACursor.items.map((e) => [e.sequence, e.data.id])).toEqual([[afterSequence + 1, ofB[ofB.length - 1]]]);
    expect(allUpdates.items).toEqual([]);
  });

  it("deliveryUpdates: retry scheduled, delivered and dead, per hook or for all hooks", async () => {
    const t = await start(driver, { HOOKCAST_RETRY_SCHEDULE: "100ms" });
    const receiver = await startReceiver();
    receivers.push(receiver);
    const good = await createHook(t, `${receiver.url}/good`);
    const bad = await createHook(t, `${receiver.url}/bad`);
    // good: 500 once then 204; bad: always 500 (one retry, then dead).
    let goodCalls = 0;
    receiver.answer = (req) => (req.path === "/bad" ? { status: 500 } : goodCalls++ === 0 ? { status: 500 } : { status: 204 });
    const live = liveClient(t.url, t.apiKey);
    const ofGood = collect(live, DELIVERIES, { hookId: good });
    const ofAll = collect(live, DELIVERIES);
    await liveSubscriptions(t, 2);

    await createContact(t, { email: "d@example.com" });
    await waitFor(() => ofAll.items.length >= 4, { timeoutMs: 15_000 });
    await waitFor(() => ofGood.items.length >= 2);
    expect(ofGood.items.map((d) => [d.status, d.attemptCount, d.hook.id])).toEqual([
      ["FAILED", 1, good],
      ["DELIVERED", 2, good],
    ]);
    expect(ofGood.items[0].nextAttemptAt).not.toBeNull();
    expect(ofGood.items[1].deliveredAt).not.toBeNull();
    expect(ofGood.items[1].event.type).toBe("contact.created");
    const ofBad = ofAll.items.filter((d) => d.hook.id === bad).map((d) => [d.status, d.attemptCount, d.lastStatusCode]);
    expect(ofBad).toEqual([
      ["FAILED", 1, 500],
      ["DEAD", 2, 500],
    ]);
    // Each state equals what the deliveries query answers afterwards (the table is the truth).
    const rows = await t.ok(`query($h: ID!) { deliveries(hookId: $h) { edges { node { id status attemptCount } } } }`, { h: bad });
    expect(rows.deliveries.edges[0].node).toEqual({ id: ofAll.items.find((d) => d.hook.id === bad).id, status: "DEAD", attemptCount: 2 });
  });

  it("20 subscribers of one operation cost one execution per event; two operations, two", async () => {
    const t = await start(driver);
    const live = liveClient(t.url, t.apiKey);
    const same = Array.from({ length: 20 }, () => collect(live, EVENTS));
    const other = Array.from({ length: 3 }, () => collect(live, `subscription { events { id type } }`));
    await liveSubscriptions(t, 23);
    const hub = t.app.live!.hub;
    const before = hub.renderCount;

    const events = 4;
    const c = await createContact(t, { email: "fan@example.com" });
    for (let i = 1; i < events; i++) await t.ok(`mutation($id: ID!, $tag: String!) { tagContact(contactId: $id, tag: $tag) { id } }`, { id: c.id, tag: `t${i}` });
    await waitFor(() => [...same, ...other].every((s) => s.items.length === events));
    // Per event: one render for the 20, one for the 3; not one per subscriber (23 per event).
    expect(hub.renderCount - before).toBe(events * 2);
    for (const s of same) expect(s.items).toEqual(same[0].items);
    expect(other[0].items).toEqual(same[0].items.map((e) => ({ id: e.id, type: e.type })));
  });

  it("subscribers of the same operation share one rendering; queries work over the socket too", async () => {
    const t = await start(driver);
    const live = liveClient(t.url, t.apiKey);
    const streams = Array.from({ length: 5 }, () => collect(live, EVENTS));
    const other = collect(live, `subscription { events { id type } }`);
    const withCursor = collect(live, EVENTS, { after: null, types: ["contact.created"] });
    await liveSubscriptions(t, 7);
    // Same document, and variables that only select events: one group; the other document: another.
    expect(t.app.live!.hub.groupCount).toBe(2);
    const c = await createContact(t, { email: "s@example.com" });
    await waitFor(() => [...streams, other, withCursor].every((s) => s.items.length === 1));
    for (const s of [...streams, withCursor]) expect(s.items[0]).toEqual(streams[0].items[0]);
    expect(other.items[0]).toEqual({ id: streams[0].items[0].id, type: "contact.created" });
    expect(streams[0].items[0].data.id).toBe(c.id);

    // Over HTTP a subscription is refused with a clear error, not a 500.
    const overHttp = await t.gql(`subscription { events { id } }`);
    expect(overHttp.errors?.[0]?.extensions?.code).toBe("BAD_REQUEST");
    expect(overHttp.errors?.[0]?.message).toMatch(/graphql-ws/);

    const me = collect(live, `{ me { id } }`, {}, "me");
    await me.done;
    expect(me.items[0]?.id).toBeTruthy();
  });
});
