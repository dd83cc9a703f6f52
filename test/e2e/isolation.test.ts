import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, CONTACT_FIELDS, createContact, createList, expectError, readContact } from "../helpers/graphql.js";

describe.each(DRIVERS)("account isolation on %s", (driver) => {
  let t: TestApp;
  /** Account A: a contact with a tag, subscribed to a list. */
  let a: { apiKey: string; contact: any; list: { id: string }; events: unknown[] };
  /** Account B: the intruder, with a contact and a list of its own. */
  let b: { apiKey: string; contactId: string; listId: string };

  beforeAll(async () => {
    t = await startTestApp(driver);
    const accountA = await t.newAccount("A");
    const created = await createContact(t, { email: "alice@a.example", firstName: "Alice", fields: { plan: "gold" } }, accountA.apiKey);
    const list = await createList(t, "A newsletter", accountA.apiKey);
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: created.id, l: list.id }, accountA.apiKey);
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "vip") { id } }`, { c: created.id }, accountA.apiKey);
    a = { apiKey: accountA.apiKey, contact: await readContact(t, created.id, accountA.apiKey), list, events: await allEvents(t, accountA.apiKey) };
    expect(a.events).toHaveLength(4);

    const accountB = await t.newAccount("B");
    const bContact = await createContact(t, { email: "bob@b.example" }, accountB.apiKey);
    const bList = await createList(t, "B list", accountB.apiKey);
    b = { apiKey: accountB.apiKey, contactId: bContact.id, listId: bList.id };
  });
  afterAll(() => t?.stop());

  /** A's data is exactly as it was, and A's log did not grow. */
  async function expectAUntouched() {
    expect(await readContact(t, a.contact.id, a.apiKey)).toEqual(a.contact);
    expect(await allEvents(t, a.apiKey)).toEqual(a.events);
    expect((await t.ok(`{ lists { id name createdAt } }`, {}, a.apiKey)).lists).toEqual([a.list]);
  }

  it("B cannot read A's contact: NOT_FOUND, worded as for an id that never existed", async () => {
    const r = await t.gql(`query($id: ID!) { contact(id: $id) { id email } }`, { id: a.contact.id }, b.apiKey);
    const error = expectError(r, "NOT_FOUND", "id");
    expect(r.data ?? null).toBeNull();
    const never = await t.gql(`query($id: ID!) { contact(id: $id) { id } }`, { id: "con_0000000000000000000000000" }, b.apiKey);
    expect(error.message.replace(a.contact.id, "X")).toBe(expectError(never, "NOT_FOUND", "id").message.replace("con_0000000000000000000000000", "X"));
    expect(JSON.stringify(r)).not.toContain("alice");
  });

  it("B's contacts, lists and events show only B's own data, whatever the filter", async () => {
    const all = await t.ok(`{ contacts(first: 100) { edges { node { id email } } } }`, {}, b.apiKey);
    expect(all.contacts.edges.map((e: any) => e.node.id)).toEqual([b.contactId]);
    for (const filter of [{ email: "alice@a.example" }, { email: "ALICE@A.EXAMPLE" }, { listId: a.list.id }, { tag: "vip" }, { listId: a.list.id, tag: "vip" }]) {
      const r = await t.ok(`query($f: ContactFilter) { contacts(filter: $f) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, { f: filter }, b.apiKey);
      expect(r.contacts, JSON.stringify(filter)).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    }
    const lists = await t.ok(`{ lists { id name } }`, {}, b.apiKey);
    expect(lists.lists).toEqual([{ id: b.listId, name: "B list" }]);
    const events = await allEvents(t, b.apiKey);
    expect(events.map((e) => e.type)).toEqual(["contact.created", "list.created"]);
    expect(events.map((e) => e.sequence)).toEqual([1, 2]);
    expect(JSON.stringify(events)).not.toContain(a.contact.id);
    // A's cursor is only a position: in B's log it shows B's own events after it, never A's.
    const afterA = await t.ok(`query($after: String) { events(after: $after) { edges { node { id } } } }`, { after: (a.events[0] as any).cursor }, b.apiKey);
    expect(afterA.events.edges.map((e: any) => e.node.id)).toEqual([events[1].id]);
  });

  const mutations: Array<[string, string, (ids: { aContact: string; aList: string; bContact: string; bList: string }) => Record<string, unknown>, string]> = [
    ["updateContact", `mutation($id: ID!) { updateContact(id: $id, input: { firstName: "Mallory", email: "mallory@b.example" }) { ${CONTACT_FIELDS} } }`, (x) => ({ id: x.aContact }), "id"],
    ["deleteContact", `mutation($id: ID!) { deleteContact(id: $id) }`, (x) => ({ id: x.aContact }), "id"],
    ["tagContact", `mutation($c: ID!) { tagContact(contactId: $c, tag: "stolen") { id } }`, (x) => ({ c: x.aContact }), "contactId"],
    ["untagContact", `mutation($c: ID!) { untagContact(contactId: $c, tag: "vip") { id } }`, (x) => ({ c: x.aContact }), "contactId"],
    ["subscribeContact (A's contact to B's list)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.aContact, l: x.bList }), "contactId"],
    ["subscribeContact (B's contact to A's list)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.bContact, l: x.aList }), "listId"],
    ["unsubscribeContact (A's contact from A's list)", `mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.aContact, l: x.aList }), "contactId"],
    ["unsubscribeContact (B's contact from A's list)", `mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, (x) => ({ c: x.bContact, l: x.aList }), "listId"],
    ["recordBounce", `mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, (x) => ({ c: x.aContact }), "contactId"],
  ];

  it.each(mutations)("B cannot %s on A's data: NOT_FOUND, A unchanged, no event in A's log", async (_name, query, vars, field) => {
    const bEventsBefore = await allEvents(t, b.apiKey);
    const r = await t.gql(query, vars({ aContact: a.contact.id, aList: a.list.id, bContact: b.contactId, bList: b.listId }), b.apiKey);
    expectError(r, "NOT_FOUND", field);
    expect(r.data ?? null).toBeNull();
    await expectAUntouched();
    expect(await allEvents(t, b.apiKey)).toEqual(bEventsBefore);
  });

  it("B may use the same email as a contact of A (uniqueness is per account), without touching A", async () => {
    const bEvents = (await allEvents(t, b.apiKey)).length;
    const created = await createContact(t, { email: "Alice@A.example" }, b.apiKey);
    expect(created.id).not.toBe(a.contact.id);
    const bLog = await allEvents(t, b.apiKey);
    expect(bLog).toHaveLength(bEvents + 1);
    expect(bLog.at(-1)!.data).toEqual(created);
    await t.ok(`mutation($id: ID!) { deleteContact(id: $id) }`, { id: created.id }, b.apiKey);
    await expectAUntouched();
  });

  it("B can create a list with the name of A's list", async () => {
    const list = await createList(t, "A newsletter", b.apiKey);
    expect(list.id).not.toBe(a.list.id);
    await expectAUntouched();
  });
});
