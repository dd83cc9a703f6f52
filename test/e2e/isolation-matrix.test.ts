import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { DeliveryEntity } from "../../src/delivery/index.js";
import { HookEntity } from "../../src/hooks/index.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { allEvents, CONTACT_FIELDS, createContact, createList, expectClean, expectError } from "../helpers/graphql.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

/**
 * Isolation under attack: account B aims every query and mutation that takes an id at account
 * A's contacts, lists, hooks, deliveries and events. Each answers NOT_FOUND (or an empty result);
 * afterwards A's contacts, lists, hooks (secrets included), deliveries and events are exactly as
 * they were, and A's receiver never got anything of B's, through replayEvents and redeliver
 * included. (test/e2e/isolation.test.ts covers the wording of NOT_FOUND and the contact filters.)
 */

const HOOK_FIELDS = "id name url status events sources listId createdAt updatedAt verificationError disabledReason stats { pending delivered failed dead consecutiveFailures lastError lastDeliveredAt lastFailureAt }";
const DELIVERY_FIELDS = "id status attemptCount nextAttemptAt deliveredAt lastStatusCode lastError createdAt updatedAt attempts { id attemptNumber statusCode error startedAt } event { id sequence } hook { id }";
const DELIVERY_BY_ID = `query($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS} requestBody } }`;

/** The ids B aims at: A's, and B's own for the mixed cases. */
interface Ids {
  aContact: string;
  aList: string;
  aHook: string;
  aDelivery: string;
  aCursor: string;
  bContact: string;
  bList: string;
  bHook: string;
  bUrl: string;
}

/** [name, document, variables, expected: NOT_FOUND on a field, or a check of B's own (empty) answer]. */
type Attack = [string, string, (x: Ids) => Record<string, unknown>, { notFound: string } | { check: (data: any, x: Ids) => void }];

const ATTACKS: Attack[] = [
  // contacts and lists
  ["contact(A's contact)", `query($id: ID!) { contact(id: $id) { id email } }`, (x) => ({ id: x.aContact }), { notFound: "id" }],
  ["updateContact(A's contact)", `mutation($id: ID!) { updateContact(id: $id, input: { firstName: "Mallory" }) { id } }`, (x) => ({ id: x.aContact }), { notFound: "id" }],
  ["deleteContact(A's contact)", `mutation($id: ID!) { deleteContact(id: $id) }`, (x) => ({ id: x.aContact }), { notFound: "id" }],
  ["subscribeContact(A's contact, A's list)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.aContact, l: x.aList }), { notFound: "contactId" }],
  ["subscribeContact(A's contact, B's list)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.aContact, l: x.bList }), { notFound: "contactId" }],
  ["subscribeContact(B's contact, A's list)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.bContact, l: x.aList }), { notFound: "listId" }],
  ["unsubscribeContact(A's contact, A's list)", `mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.aContact, l: x.aList }), { notFound: "contactId" }],
  ["unsubscribeContact(B's contact, A's list)", `mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.bContact, l: x.aList }), { notFound: "listId" }],
  ["tagContact(A's contact)", `mutation($c: ID!) { tagContact(contactId: $c, tag: "pwned") { id } }`, (x) => ({ c: x.aContact }), { notFound: "contactId" }],
  ["untagContact(A's contact)", `mutation($c: ID!) { untagContact(contactId: $c, tag: "vip") { id } }`, (x) => ({ c: x.aContact }), { notFound: "contactId" }],
  ["recordBounce(A's contact)", `mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, (x) => ({ c: x.aContact }), { notFound: "contactId" }],
  ["contacts(filter.listId: A's list)", `query($l: ID) { contacts(first: 100, filter: { listId: $l }) { edges { node { id } } } }`, (x) => ({ l: x.aList }), { check: (d) => expect(d.contacts.edges).toEqual([]) }],
  // hooks
  ["hook(A's hook)", `query($id: ID!) { hook(id: $id) { id url } }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["updateHook(A's hook) to B's receiver", `mutation($id: ID!, $url: String!) { updateHook(id: $id, input: { url: $url, events: ["*"] }) { id } }`, (x) => ({ id: x.aHook, url: x.bUrl }), { notFound: "id" }],
  ["deleteHook(A's hook)", `mutation($id: ID!) { deleteHook(id: $id) }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["pauseHook(A's hook)", `mutation($id: ID!) { pauseHook(id: $id) { id } }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["resumeHook(A's hook)", `mutation($id: ID!) { resumeHook(id: $id) { id } }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["verifyHook(A's hook)", `mutation($id: ID!) { verifyHook(id: $id) { id } }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["pingHook(A's hook)", `mutation($id: ID!) { pingHook(id: $id) { id } }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["rotateHookSecret(A's hook)", `mutation($id: ID!) { rotateHookSecret(id: $id, gracePeriodSeconds: 0) { secret } }`, (x) => ({ id: x.aHook }), { notFound: "id" }],
  ["createHook(listId: A's list)", `mutation($url: String!, $l: ID) { createHook(input: { url: $url, listId: $l }) { secret } }`, (x) => ({ url: x.bUrl, l: x.aList }), { notFound: "input.listId" }],
  ["updateHook(B's hook, listId: A's list)", `mutation($id: ID!, $l: ID) { updateHook(id: $id, input: { listId: $l }) { id } }`, (x) => ({ id: x.bHook, l: x.aList }), { notFound: "input.listId" }],
  // deliveries and events
  ["delivery(A's delivery)", DELIVERY_BY_ID, (x) => ({ id: x.aDelivery }), { notFound: "id" }],
  ["deliveries(hookId: A's hook)", `query($h: ID!) { deliveries(hookId: $h, first: 100) { edges { node { id } } } }`, (x) => ({ h: x.aHook }), { notFound: "hookId" }],
  ["redeliver(A's delivery)", `mutation($d: ID!) { redeliver(deliveryId: $d) { id } }`, (x) => ({ d: x.aDelivery }), { notFound: "deliveryId" }],
  ["replayEvents(A's hook)", `mutation($h: ID!) { replayEvents(hookId: $h) }`, (x) => ({ h: x.aHook }), { notFound: "hookId" }],
  ["replayEvents(A's hook, after: A's cursor)", `mutation($h: ID!, $after: String) { replayEvents(hookId: $h, after: $after) }`, (x) => ({ h: x.aHook, after: x.aCursor }), { notFound: "hookId" }],
  [
    "events(after: A's cursor) shows only B's events",
    `query($after: String) { events(after: $after, first: 500) { edges { node { id data } } } }`,
    (x) => ({ after: x.aCursor }),
    { check: (d, x) => expect(JSON.stringify(d)).not.toContain(x.aContact) },
  ],
];

describe.each(DRIVERS)("isolation matrix on %s", (driver) => {
  let t: TestApp;
  let receiverA: Receiver;
  let receiverB: Receiver;
  let a: { accountId: string; apiKey: string; secret: string; eventIds: Set<string> };
  /** B's account, and one of its deliveries that was already delivered (to redeliver). */
  let b: { accountId: string; apiKey: string; deliveredId: string };
  let ids: Ids;

  async function deliveriesOf(hookId: string, apiKey: string): Promise<any[]> {
    const data = await t.ok(`query($h: ID!) { deliveries(hookId: $h, first: 100) { edges { node { ${DELIVERY_FIELDS} } } } }`, { h: hookId }, apiKey);
    return data.deliveries.edges.map((e: any) => e.node);
  }

  /** Everything of A, through A's key and straight from the tables (secrets included). */
  async function snapshotA() {
    const db = t.app.deps.db;
    return {
      contacts: (await t.ok(`{ contacts(first: 100) { edges { node { ${CONTACT_FIELDS} } } } }`, {}, a.apiKey)).contacts,
      lists: (await t.ok(`{ lists { id name createdAt } }`, {}, a.apiKey)).lists,
      hooks: (await t.ok(`{ hooks { ${HOOK_FIELDS} } }`, {}, a.apiKey)).hooks,
      deliveries: await deliveriesOf(ids.aHook, a.apiKey),
      events: await allEvents(t, a.apiKey),
      hookRows: await db.read((m) => m.find(HookEntity, { where: { accountId: a.accountId }, order: { id: "ASC" } })),
      deliveryRows: await db.read((m) => m.find(DeliveryEntity, { where: { accountId: a.accountId }, order: { id: "ASC" } })),
      received: receiverA.webhooks.length,
    };
  }

  /** Waits until every delivery of `hookId` is DELIVERED and the receiver got at least as many requests. */
  async function settled(hookId: string, apiKey: string, receiver: Receiver, atLeast: number): Promise<any[]> {
    return waitFor(
      async () => {
        const list = await deliveriesOf(hookId, apiKey);
        return list.length >= atLeast && list.every((d) => d.status === "DELIVERED") && receiver.webhooks.length >= list.length ? list : null;
      },
      { message: `deliveries of ${hookId} settled` },
    );
  }

  beforeAll(async () => {
    receiverA = await startReceiver();
    receiverB = await startReceiver();
    t = await startTestApp(driver);
    const accountA = await t.newAccount("A");
    const hookA = (await t.ok(`mutation($url: String!) { createHook(input: { url: $url }) { secret hook { id status } } }`, { url: `${receiverA.url}/a` }, accountA.apiKey)).createHook;
    expect(hookA.hook.status).toBe("ACTIVE");
    const contact = await createContact(t, { email: "alice@a.example", firstName: "Alice", fields: { plan: "gold" } }, accountA.apiKey);
    const list = await createList(t, "A newsletter", accountA.apiKey);
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: contact.id, l: list.id }, accountA.apiKey);
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "vip") { id } }`, { c: contact.id }, accountA.apiKey);
    const aEvents = await allEvents(t, accountA.apiKey);
    const aDeliveries = await settled(hookA.hook.id, accountA.apiKey, receiverA, aEvents.length);

    const accountB = await t.newAccount("B");
    const hookB = (await t.ok(`mutation($url: String!) { createHook(input: { url: $url }) { hook { id } } }`, { url: `${receiverB.url}/b` }, accountB.apiKey)).createHook.hook;
    const bContact = await createContact(t, { email: "bob@b.example" }, accountB.apiKey);
    const bList = await createList(t, "B list", accountB.apiKey);
    const bDeliveries = await settled(hookB.id, accountB.apiKey, receiverB, 2);

    a = { accountId: accountA.accountId, apiKey: accountA.apiKey, secret: hookA.secret, eventIds: new Set(aEvents.map((e) => e.id)) };
    b = { accountId: accountB.accountId, apiKey: accountB.apiKey, deliveredId: bDeliveries[0].id };
    ids = {
      aContact: contact.id,
      aList: list.id,
      aHook: hookA.hook.id,
      aDelivery: aDeliveries[0].id,
      aCursor: aEvents[1].cursor,
      bContact: bContact.id,
      bList: bList.id,
      bHook: hookB.id,
      bUrl: `${receiverB.url}/b`,
    };
  });
  afterAll(async () => {
    await t?.stop();
    await receiverA?.stop();
    await receiverB?.stop();
  });

  it("every id-taking operation of B aimed at A answers NOT_FOUND or nothing, and A is unchanged", async () => {
    const before = await snapshotA();
    expect(before.deliveries.length).toBeGreaterThanOrEqual(4);
    for (const [name, query, vars, expected] of ATTACKS) {
      const r = await t.gql(query, vars(ids), b.apiKey);
      if ("notFound" in expected) {
        expectError(r, "NOT_FOUND", expected.notFound);
        expect(r.data ?? null, name).toBeNull();
      } else {
        expect(r.errors, `${name}: ${JSON.stringify(r.errors)}`).toBeUndefined();
        expected.check(r.data, ids);
      }
      expectClean(r);
      // Nothing of A leaks into an answer to B, whatever it was.
      expect(JSON.stringify(r), name).not.toMatch(/alice|A newsletter|\/a"/);
    }
    expect(await snapshotA()).toEqual(before);
  });

  it("delivery(id) answers each account its own delivery, with the body its receiver got, and not the other's", async () => {
    const own = (await t.ok(DELIVERY_BY_ID, { id: ids.aDelivery }, a.apiKey)).delivery;
    const listed = (await deliveriesOf(ids.aHook, a.apiKey)).find((d) => d.id === ids.aDelivery);
    expect(listed).toBeDefined();
    expect({ ...own, requestBody: undefined }).toEqual({ ...listed, requestBody: undefined });
    expect(own.hook.id).toBe(ids.aHook);
    const received = receiverA.webhooks.find((w) => w.json?.id === own.event.id);
    expect(received?.body).toBe(own.requestBody);

    const bOwn = (await t.ok(DELIVERY_BY_ID, { id: b.deliveredId }, b.apiKey)).delivery;
    expect(bOwn).toMatchObject({ id: b.deliveredId, hook: { id: ids.bHook }, status: "DELIVERED" });
    // And the other way round: A cannot read B's delivery either.
    const reverse = await t.gql(DELIVERY_BY_ID, { id: b.deliveredId }, a.apiKey);
    expectError(reverse, "NOT_FOUND", "id");
    expect(reverse.data ?? null).toBeNull();
  });

  it("A's hook never receives B's events, even when B replays from A's cursor and redelivers", async () => {
    const before = await snapshotA();
    // B's own traffic: new events, a replay of its log from A's cursor, a redelivery, a ping.
    await createContact(t, { email: "carol@b.example" }, b.apiKey);
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: ids.bContact, l: ids.bList }, b.apiKey);
    const replayed = (await t.ok(`mutation($h: ID!, $after: String) { replayEvents(hookId: $h, after: $after) }`, { h: ids.bHook, after: ids.aCursor }, b.apiKey)).replayEvents;
    expect(replayed).toBeGreaterThan(0);
    await t.ok(`mutation($d: ID!) { redeliver(deliveryId: $d) { id } }`, { d: b.deliveredId }, b.apiKey);
    await t.ok(`mutation($h: ID!) { pingHook(id: $h) { id } }`, { h: ids.bHook }, b.apiKey);
    const bEvents = await allEvents(t, b.apiKey);
    // B's receiver got all of it and every delivery of B (replayed and redelivered ones included)
    // is done: the worker has run, so A's receiver had every chance to get some.
    await waitFor(
      async () => {
        const seen = new Set(receiverB.webhooks.map((w) => w.json?.id));
        if (!bEvents.every((e) => seen.has(e.id))) return false;
        const list = await deliveriesOf(ids.bHook, b.apiKey);
        return list.every((d) => d.status === "DELIVERED") && list.find((d) => d.id === b.deliveredId)?.attemptCount >= 2;
      },
      { timeoutMs: 45_000, message: "B's receiver got B's events, the replay and the redelivery" },
    );

    expect(await snapshotA()).toEqual(before);
    for (const got of receiverA.webhooks) {
      const envelope = new Webhook(a.secret).verify(got.body, got.headers as Record<string, string>) as { id: string };
      expect(a.eventIds.has(envelope.id), got.body).toBe(true);
    }
    const bIds = new Set(bEvents.map((e) => e.id));
    expect(receiverB.webhooks.every((w) => bIds.has(w.json.id))).toBe(true);
  }, 60_000);
});
