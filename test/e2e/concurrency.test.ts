import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountEntity } from "../../src/accounts/account.entity.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, CONTACT_FIELDS, createContact, expectError, readContact } from "../helpers/graphql.js";

const CREATE = `mutation($input: CreateContactInput!) { createContact(input: $input) { ${CONTACT_FIELDS} } }`;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(DRIVERS)("concurrent writes over HTTP on %s", (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(driver);
  });
  afterAll(() => t?.stop());

  async function eventSeq(accountId: string): Promise<number> {
    return (await t.app.deps.db.read((m) => m.findOneOrFail(AccountEntity, { where: { id: accountId } }))).eventSeq;
  }

  it("50 concurrent createContact calls all succeed, with sequences 1..50: no gaps, no duplicates", async () => {
    const { accountId, apiKey: key } = await t.newAccount();
    const results = await Promise.all(range(1, 50).map((i) => t.gql(CREATE, { input: { email: `c${i}@example.com`, firstName: `C${i}` } }, key)));
    for (const r of results) expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    const created = results.map((r) => r.data.createContact);
    expect(new Set(created.map((c) => c.id)).size).toBe(50);

    const log = await allEvents(t, key);
    expect(log.map((e) => e.sequence)).toEqual(range(1, 50));
    expect(log.every((e) => e.type === "contact.created" && e.source === "api")).toBe(true);
    expect(new Set(log.map((e) => e.id)).size).toBe(50);
    // Each event carries exactly the contact its request created.
    const byId = new Map(created.map((c) => [c.id, c]));
    expect(new Set(log.map((e) => e.data.id))).toEqual(new Set(byId.keys()));
    for (const e of log) expect(e.data).toEqual(byId.get(e.data.id));
    expect(await eventSeq(accountId)).toBe(50);
    const listed = await t.ok(`{ contacts(first: 100) { edges { node { id } } } }`, {}, key);
    expect(listed.contacts.edges).toHaveLength(50);
  });

  it("50 concurrent creates after earlier events continue at N+1..N+50, while another account writes too", async () => {
    const a = await t.newAccount();
    const b = await t.newAccount();
    const first = await createContact(t, { email: "first@example.com" }, a.apiKey);
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "x") { id } }`, { c: first.id }, a.apiKey);
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: first.id }, a.apiKey);
    const results = await Promise.all([
      ...range(1, 50).map((i) => t.gql(CREATE, { input: { email: `n${i}@example.com` } }, a.apiKey)),
      ...range(1, 20).map((i) => t.gql(CREATE, { input: { email: `n${i}@example.com` } }, b.apiKey)),
    ]);
    for (const r of results) expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect((await allEvents(t, a.apiKey)).map((e) => e.sequence)).toEqual(range(1, 53));
    expect((await allEvents(t, b.apiKey)).map((e) => e.sequence)).toEqual(range(1, 20));
    expect(await eventSeq(a.accountId)).toBe(53);
  });

  it("10 concurrent creates of one email: exactly one wins, the rest get CONTACT_EXISTS, one event, no gap after", async () => {
    const { apiKey: key } = await t.newAccount();
    const results = await Promise.all(range(1, 10).map((i) => t.gql(CREATE, { input: { email: i % 2 ? "race@example.com" : "RACE@example.com", firstName: `R${i}` } }, key)));
    const winners = results.filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => r.errors)) expectError(r, "CONTACT_EXISTS", "input.email");
    const log = await allEvents(t, key);
    expect(log).toHaveLength(1);
    expect(log[0].data).toEqual(winners[0].data.createContact);
    const next = await createContact(t, { email: "after@example.com" }, key);
    expect((await allEvents(t, key)).map((e) => [e.sequence, e.data.id])).toEqual([
      [1, winners[0].data.createContact.id],
      [2, next.id],
    ]);
  });

  it("concurrent changes to one contact each append one event, and the last event equals the final contact", async () => {
    const { apiKey: key } = await t.newAccount();
    const c = await createContact(t, { email: "busy@example.com" }, key);
    const tags = range(1, 20).map((i) => `tag-${String(i).padStart(2, "0")}`);
    const results = await Promise.all([
      ...tags.map((tag) => t.gql(`mutation($c: ID!, $tag: String!) { tagContact(contactId: $c, tag: $tag) { id } }`, { c: c.id, tag }, key)),
      ...range(1, 5).map(() => t.gql(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: c.id }, key)),
    ]);
    for (const r of results) expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    const log = await allEvents(t, key);
    expect(log.map((e) => e.sequence)).toEqual(range(1, 26));
    expect(log.filter((e) => e.type === "contact.tag_added").map((e) => e.tag).sort()).toEqual(tags);
    const final = await readContact(t, c.id, key);
    expect(final.tags).toEqual(tags);
    expect(final.bounceCount).toBe(5);
    expect(log[log.length - 1].data).toEqual(final);
    // Each event's snapshot includes every change committed before it: tags only grow along the log.
    let tagCount = 0;
    for (const e of log.slice(1)) {
      expect(e.data.tags.length).toBeGreaterThanOrEqual(tagCount);
      tagCount = e.data.tags.length;
    }
  });

  it("concurrent identical tag and subscribe calls are idempotent: all succeed, one event each", async () => {
    const { apiKey: key } = await t.newAccount();
    const c = await createContact(t, { email: "twice@example.com" }, key);
    const list = (await t.ok(`mutation { createList(input: { name: "L" }) { id } }`, {}, key)).createList;
    const results = await Promise.all([
      ...range(1, 10).map(() => t.gql(`mutation($c: ID!) { tagContact(contactId: $c, tag: "same") { id tags } }`, { c: c.id }, key)),
      ...range(1, 10).map(() => t.gql(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: c.id, l: list.id }, key)),
    ]);
    for (const r of results) expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    const log = await allEvents(t, key);
    expect(log.map((e) => e.type).sort()).toEqual(["contact.created", "contact.subscribed", "contact.tag_added", "list.created"]);
    expect(log.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    const final = await readContact(t, c.id, key);
    expect(final.tags).toEqual(["same"]);
    expect(final.lists.map((l: any) => l.status)).toEqual(["SUBSCRIBED"]);
    expect(log[3].data).toEqual(final);
  });
});
