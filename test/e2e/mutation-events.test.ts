import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, CONTACT_FIELDS, createList, expectError, readContact, type EventNode } from "../helpers/graphql.js";

/**
 * Every mutation appends exactly one event with the right type, source, next sequence and
 * `data` equal to the `contact` query's answer after the change; a no-op appends nothing.
 */
describe.each(DRIVERS)("events of every mutation on %s", (driver) => {
  let t: TestApp;
  let key: string;
  let seen: EventNode[];

  beforeAll(async () => {
    t = await startTestApp(driver);
  });
  afterAll(() => t?.stop());
  beforeEach(async () => {
    key = (await t.newAccount()).apiKey;
    seen = [];
  });

  /** Runs `query`; returns its data and the events it appended. */
  async function run(query: string, variables: Record<string, unknown>) {
    const data = await t.ok(query, variables, key);
    const log = await allEvents(t, key);
    expect(log.slice(0, seen.length), "the log is append-only").toEqual(seen);
    const appended = log.slice(seen.length);
    seen = log;
    return { data, appended };
  }

  /** Runs a mutation that must append exactly one event; checks it against the contact's rendering now. */
  async function expectOneEvent(query: string, variables: Record<string, unknown>, expected: { type: string; source?: string; contactId: string; listId?: string | null; tag?: string | null }) {
    const { data, appended } = await run(query, variables);
    expect(appended, JSON.stringify(appended)).toHaveLength(1);
    const [event] = appended;
    const contact = await readContact(t, expected.contactId, key);
    expect(event.type).toBe(expected.type);
    expect(event.source).toBe(expected.source ?? "api");
    expect(event.sequence).toBe(seen.length);
    expect(event.id).toMatch(/^evt_[0-9a-z]{26}$/);
    expect(event.listId).toBe(expected.listId ?? null);
    expect(event.tag).toBe(expected.tag ?? null);
    expect(event.data).toEqual(contact);
    expect(event.occurredAt).toBe(contact.updatedAt);
    // The mutation answers with the same rendering.
    expect(Object.values(data)[0]).toEqual(contact);
    return { event, contact };
  }

  /** Runs a mutation that must change nothing and append nothing. */
  async function expectNoEvent(query: string, variables: Record<string, unknown>, contactId: string) {
    const before = await readContact(t, contactId, key);
    const { data, appended } = await run(query, variables);
    expect(appended).toEqual([]);
    expect(await readContact(t, contactId, key)).toEqual(before);
    expect(Object.values(data)[0]).toEqual(before);
  }

  const CREATE = `mutation($input: CreateContactInput!) { createContact(input: $input) { ${CONTACT_FIELDS} } }`;
  const UPDATE = `mutation($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { ${CONTACT_FIELDS} } }`;
  const SUBSCRIBE = `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { ${CONTACT_FIELDS} } }`;
  const UNSUBSCRIBE = `mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { ${CONTACT_FIELDS} } }`;
  const TAG = `mutation($c: ID!, $tag: String!) { tagContact(contactId: $c, tag: $tag) { ${CONTACT_FIELDS} } }`;
  const UNTAG = `mutation($c: ID!, $tag: String!) { untagContact(contactId: $c, tag: $tag) { ${CONTACT_FIELDS} } }`;
  const BOUNCE = `mutation($c: ID!) { recordBounce(contactId: $c) { ${CONTACT_FIELDS} } }`;
  const DELETE = `mutation($id: ID!) { deleteContact(id: $id) }`;

  async function newContact(input: Record<string, unknown> = { email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", phone: "+44 20 7946 0000", fields: { plan: "gold", score: 7, nested: { a: [1, 2] } } }) {
    const { data, appended } = await run(CREATE, { input });
    const contact = data.createContact;
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({ type: "contact.created", source: "api", sequence: seen.length, listId: null, tag: null });
    expect(appended[0].data).toEqual(await readContact(t, contact.id, key));
    expect(appended[0].data).toEqual(contact);
    expect(appended[0].occurredAt).toBe(contact.createdAt);
    expect(contact.createdAt).toBe(contact.updatedAt);
    return contact;
  }

  it("createContact appends contact.created with the full contact", async () => {
    const contact = await newContact();
    expect(contact).toMatchObject({ email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", phone: "+44 20 7946 0000", fields: { plan: "gold", score: 7, nested: { a: [1, 2] } }, tags: [], lists: [], bounceCount: 0, bouncedAt: null });
    // Inputs are trimmed; blank optional strings are null; missing fields are {}.
    const minimal = await newContact({ email: "  min@example.com ", firstName: "  ", phone: "" });
    expect(minimal).toMatchObject({ email: "min@example.com", firstName: null, lastName: null, phone: null, fields: {} });
  });

  it("updateContact appends contact.updated; the same values again append nothing", async () => {
    const contact = await newContact();
    const { contact: updated } = await expectOneEvent(UPDATE, { id: contact.id, input: { firstName: "Augusta", fields: { plan: "silver" } } }, { type: "contact.updated", contactId: contact.id });
    expect(updated).toMatchObject({ firstName: "Augusta", lastName: "Lovelace", fields: { plan: "silver" } });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(contact.updatedAt));
    expect(updated.createdAt).toBe(contact.createdAt);

    await expectNoEvent(UPDATE, { id: contact.id, input: { firstName: "Augusta", fields: { plan: "silver" } } }, contact.id);
    await expectNoEvent(UPDATE, { id: contact.id, input: { firstName: " Augusta ", lastName: "Lovelace", email: "ada@example.com" } }, contact.id);
    await expectNoEvent(UPDATE, { id: contact.id, input: {} }, contact.id);
    // The same custom fields in another key order are the same JSON object.
    await expectOneEvent(UPDATE, { id: contact.id, input: { fields: { plan: "silver", nested: { x: 1, y: [2, { p: 1, q: 2 }] } } } }, { type: "contact.updated", contactId: contact.id });
    await expectNoEvent(UPDATE, { id: contact.id, input: { fields: { nested: { y: [2, { q: 2, p: 1 }], x: 1 }, plan: "silver" } } }, contact.id);
    // ...but a different array order is a change.
    await expectOneEvent(UPDATE, { id: contact.id, input: { fields: { plan: "silver", nested: { x: 1, y: [{ p: 1, q: 2 }, 2] } } } }, { type: "contact.updated", contactId: contact.id });
    await expectOneEvent(UPDATE, { id: contact.id, input: { fields: { plan: "silver" } } }, { type: "contact.updated", contactId: contact.id });

    // null clears a field; the email can change.
    const { contact: cleared } = await expectOneEvent(UPDATE, { id: contact.id, input: { phone: null, email: "ada@lovelace.example" } }, { type: "contact.updated", contactId: contact.id });
    expect(cleared).toMatchObject({ phone: null, email: "ada@lovelace.example" });
    await expectNoEvent(UPDATE, { id: contact.id, input: { phone: null } }, contact.id);
  });

  it("createList appends list.created with the list", async () => {
    const { data, appended } = await run(`mutation { createList(input: { name: "Weekly" }) { id name createdAt } }`, {});
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({ type: "list.created", source: "api", sequence: 1, listId: data.createList.id, tag: null });
    expect(appended[0].data).toEqual(data.createList);
    expect((await t.ok(`{ lists { id name createdAt } }`, {}, key)).lists).toEqual([data.createList]);
  });

  it("subscribeContact / unsubscribeContact append contact.subscribed / contact.unsubscribed with listId; repeats append nothing", async () => {
    const contact = await newContact();
    const list = await createList(t, "Weekly", key);
    seen = await allEvents(t, key);

    const { contact: subscribed } = await expectOneEvent(SUBSCRIBE, { c: contact.id, l: list.id }, { type: "contact.subscribed", contactId: contact.id, listId: list.id });
    expect(subscribed.lists).toEqual([{ list, status: "SUBSCRIBED", subscribedAt: subscribed.updatedAt, unsubscribedAt: null }]);
    await expectNoEvent(SUBSCRIBE, { c: contact.id, l: list.id }, contact.id);

    const { contact: unsubscribed } = await expectOneEvent(UNSUBSCRIBE, { c: contact.id, l: list.id }, { type: "contact.unsubscribed", contactId: contact.id, listId: list.id });
    expect(unsubscribed.lists).toEqual([{ list, status: "UNSUBSCRIBED", subscribedAt: subscribed.updatedAt, unsubscribedAt: unsubscribed.updatedAt }]);
    await expectNoEvent(UNSUBSCRIBE, { c: contact.id, l: list.id }, contact.id);

    // Subscribing again revives the membership.
    const { contact: again } = await expectOneEvent(SUBSCRIBE, { c: contact.id, l: list.id }, { type: "contact.subscribed", contactId: contact.id, listId: list.id });
    expect(again.lists).toEqual([{ list, status: "SUBSCRIBED", subscribedAt: again.updatedAt, unsubscribedAt: null }]);

    // Unsubscribing from a list the contact never joined is a no-op.
    const other = await createList(t, "Other", key);
    seen = await allEvents(t, key);
    await expectNoEvent(UNSUBSCRIBE, { c: contact.id, l: other.id }, contact.id);
  });

  it("tagContact / untagContact append contact.tag_added / contact.tag_removed with the tag; repeats append nothing", async () => {
    const contact = await newContact();
    const { contact: tagged } = await expectOneEvent(TAG, { c: contact.id, tag: "vip" }, { type: "contact.tag_added", contactId: contact.id, tag: "vip" });
    expect(tagged.tags).toEqual(["vip"]);
    await expectNoEvent(TAG, { c: contact.id, tag: "vip" }, contact.id);
    await expectNoEvent(TAG, { c: contact.id, tag: "  vip " }, contact.id);

    const { contact: two } = await expectOneEvent(TAG, { c: contact.id, tag: "early-adopter" }, { type: "contact.tag_added", contactId: contact.id, tag: "early-adopter" });
    expect(two.tags).toEqual(["early-adopter", "vip"]);

    const { contact: untagged } = await expectOneEvent(UNTAG, { c: contact.id, tag: "vip" }, { type: "contact.tag_removed", contactId: contact.id, tag: "vip" });
    expect(untagged.tags).toEqual(["early-adopter"]);
    await expectNoEvent(UNTAG, { c: contact.id, tag: "vip" }, contact.id);
    await expectNoEvent(UNTAG, { c: contact.id, tag: "never-had-it" }, contact.id);
  });

  it("recordBounce appends contact.bounced with source system, every time", async () => {
    const contact = await newContact();
    const { event, contact: bounced } = await expectOneEvent(BOUNCE, { c: contact.id }, { type: "contact.bounced", source: "system", contactId: contact.id });
    expect(bounced).toMatchObject({ bounceCount: 1, bouncedAt: event.occurredAt });
    const { contact: twice } = await expectOneEvent(BOUNCE, { c: contact.id }, { type: "contact.bounced", source: "system", contactId: contact.id });
    expect(twice.bounceCount).toBe(2);
  });

  it("deleteContact appends contact.deleted with the contact as it was; a second delete is NOT_FOUND and appends nothing", async () => {
    const contact = await newContact();
    const list = await createList(t, "Weekly", key);
    await t.ok(SUBSCRIBE, { c: contact.id, l: list.id }, key);
    await t.ok(TAG, { c: contact.id, tag: "vip" }, key);
    seen = await allEvents(t, key);
    const before = await readContact(t, contact.id, key);
    expect(before.tags).toEqual(["vip"]);

    const { data, appended } = await run(DELETE, { id: contact.id });
    expect(data.deleteContact).toBe(true);
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({ type: "contact.deleted", source: "api", sequence: seen.length, listId: null, tag: null });
    expect(appended[0].data).toEqual(before);

    expectError(await t.gql(`query($id: ID!) { contact(id: $id) { id } }`, { id: contact.id }, key), "NOT_FOUND", "id");
    expectError(await t.gql(DELETE, { id: contact.id }, key), "NOT_FOUND", "id");
    expect(await allEvents(t, key)).toEqual(seen);

    // The email is free again, and the new contact starts clean (no tags, no lists).
    const reborn = await newContact({ email: "ada@example.com" });
    expect(reborn.id).not.toBe(contact.id);
    expect(reborn).toMatchObject({ tags: [], lists: [] });
  });

  it("numbers the whole log 1..n without gaps, each cursor resuming right after its event", async () => {
    const contact = await newContact();
    await t.ok(TAG, { c: contact.id, tag: "a" }, key);
    await t.ok(TAG, { c: contact.id, tag: "a" }, key); // no-op: takes no number
    await t.ok(UPDATE, { id: contact.id, input: { firstName: "B" } }, key);
    await t.ok(BOUNCE, { c: contact.id }, key);
    await t.ok(DELETE, { id: contact.id }, key);
    const log = await allEvents(t, key);
    expect(log.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(log.map((e) => e.type)).toEqual(["contact.created", "contact.tag_added", "contact.updated", "contact.bounced", "contact.deleted"]);
    expect(new Set(log.map((e) => e.id)).size).toBe(5);
    for (let i = 0; i < log.length; i++) {
      const page = await t.ok(`query($after: String) { events(after: $after, first: 1) { edges { node { id } } } }`, { after: log[i].cursor }, key);
      expect(page.events.edges.map((e: any) => e.node.id)).toEqual(log[i + 1] ? [log[i + 1].id] : []);
    }
  });
});
