import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../../src/events/event-types.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, createContact, createList } from "../helpers/graphql.js";

/** The event types API.md names: the catalog must keep every one of them. */
const API_MD_EVENT_TYPES = [
  "contact.created",
  "contact.updated",
  "contact.deleted",
  "contact.subscribed",
  "contact.unsubscribed",
  "contact.bounced",
  "contact.tag_added",
  "contact.tag_removed",
  "hook.ping",
];

describe.each(DRIVERS)("queries on %s", (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(driver);
  });
  afterAll(() => t?.stop());

  it("me answers the caller's account", async () => {
    const before = Date.now();
    const account = await t.newAccount("  Acme Corp ");
    const { me } = await t.ok(`{ me { id name createdAt } }`, {}, account.apiKey);
    expect(me.id).toBe(account.accountId);
    expect(me.id).toMatch(/^acc_/);
    expect(me.name).toBe("Acme Corp");
    expect(Date.parse(me.createdAt)).toBeGreaterThanOrEqual(before - 1_000);
    expect(me.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("lists answers the account's lists by name", async () => {
    const { apiKey: key } = await t.newAccount();
    expect((await t.ok(`{ lists { id } }`, {}, key)).lists).toEqual([]);
    const zebra = await createList(t, "Zebra", key);
    const alpha = await createList(t, "Alpha", key);
    const mid = await createList(t, "  Middle  ", key);
    expect(mid.name).toBe("Middle");
    expect((await t.ok(`{ lists { id name createdAt } }`, {}, key)).lists).toEqual([alpha, mid, zebra]);
  });

  it("eventTypes lists every type of API.md, each once, with a description", async () => {
    const { eventTypes } = await t.ok(`{ eventTypes { name description } }`);
    const names = eventTypes.map((e: any) => e.name);
    expect(new Set(names).size).toBe(names.length);
    for (const type of API_MD_EVENT_TYPES) expect(names).toContain(type);
    for (const { name, description } of eventTypes) {
      expect(name).toMatch(/^[a-z]+\.[a-z_]+$/);
      expect(description.length, name).toBeGreaterThan(10);
    }
    expect(eventTypes).toEqual(Object.entries(EVENT_TYPES).map(([name, description]) => ({ name, description })));
  });

  it("every event the API appends has a type from the catalog", async () => {
    const { apiKey: key } = await t.newAccount();
    const c = await createContact(t, { email: "cat@example.com" }, key);
    const l = await createList(t, "L", key);
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: c.id, l: l.id }, key);
    await t.ok(`mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, { c: c.id, l: l.id }, key);
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "x") { id } }`, { c: c.id }, key);
    await t.ok(`mutation($c: ID!) { untagContact(contactId: $c, tag: "x") { id } }`, { c: c.id }, key);
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { firstName: "Cat" }) { id } }`, { c: c.id }, key);
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: c.id }, key);
    await t.ok(`mutation($c: ID!) { deleteContact(id: $c) }`, { c: c.id }, key);
    const { eventTypes } = await t.ok(`{ eventTypes { name } }`);
    const catalog = new Set(eventTypes.map((e: any) => e.name));
    const types = (await allEvents(t, key)).map((e) => e.type);
    expect(types).toHaveLength(9);
    for (const type of types) expect(catalog.has(type), type).toBe(true);
  });

  describe("contacts(filter)", () => {
    let key: string;
    let ids: Record<string, string>;
    let lists: Record<string, string>;
    const FILTER = `query($filter: ContactFilter, $first: Int, $after: String) { contacts(filter: $filter, first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`;
    const filtered = async (filter: Record<string, unknown>) => (await t.ok(FILTER, { filter, first: 100 }, key)).contacts.edges.map((e: any) => e.node.id);

    beforeAll(async () => {
      key = (await t.newAccount()).apiKey;
      ids = {};
      for (const name of ["ann", "ben", "cid", "dee", "eve"]) ids[name] = (await createContact(t, { email: `${name}@Example.com` }, key)).id;
      lists = { news: (await createList(t, "news", key)).id, promo: (await createList(t, "promo", key)).id, empty: (await createList(t, "empty", key)).id };
      const sub = `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`;
      for (const n of ["ann", "ben", "cid"]) await t.ok(sub, { c: ids[n], l: lists.news }, key);
      for (const n of ["cid", "dee"]) await t.ok(sub, { c: ids[n], l: lists.promo }, key);
      // ben leaves news again: an unsubscribed membership must not match.
      await t.ok(`mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, { c: ids.ben, l: lists.news }, key);
      const tag = `mutation($c: ID!, $tag: String!) { tagContact(contactId: $c, tag: $tag) { id } }`;
      for (const n of ["ann", "cid", "eve"]) await t.ok(tag, { c: ids[n], tag: "vip" }, key);
      await t.ok(tag, { c: ids.dee, tag: "vip-lite" }, key);
      await t.ok(tag, { c: ids.ann, tag: "early" }, key);
      // A contact of another account with the same email, tag and (by id) list must never match.
      const other = await t.newAccount();
      const stranger = await createContact(t, { email: "ann@example.com" }, other.apiKey);
      await t.ok(tag, { c: stranger.id, tag: "vip" }, other.apiKey);
    });

    it("by email: exact, case-insensitive, trimmed", async () => {
      expect(await filtered({ email: "ann@example.com" })).toEqual([ids.ann]);
      expect(await filtered({ email: "  ANN@EXAMPLE.COM " })).toEqual([ids.ann]);
      expect(await filtered({ email: "ann@example" })).toEqual([]);
      expect(await filtered({ email: "nobody@example.com" })).toEqual([]);
    });

    it("by listId: subscribed members only", async () => {
      expect(await filtered({ listId: lists.news })).toEqual([ids.ann, ids.cid]);
      expect(await filtered({ listId: lists.promo })).toEqual([ids.cid, ids.dee]);
      expect(await filtered({ listId: lists.empty })).toEqual([]);
      expect(await filtered({ listId: "lst_01zzzzzzzzzzzzzzzzzzzzzzzz" })).toEqual([]);
    });

    it("by tag: exact tag only", async () => {
      expect(await filtered({ tag: "vip" })).toEqual([ids.ann, ids.cid, ids.eve]);
      expect(await filtered({ tag: "vip-lite" })).toEqual([ids.dee]);
      expect(await filtered({ tag: "vi" })).toEqual([]);
      expect(await filtered({ tag: "early" })).toEqual([ids.ann]);
    });

    it("combined filters intersect", async () => {
      expect(await filtered({ listId: lists.news, tag: "vip" })).toEqual([ids.ann, ids.cid]);
      expect(await filtered({ listId: lists.promo, tag: "vip" })).toEqual([ids.cid]);
      expect(await filtered({ listId: lists.news, tag: "vip", email: "cid@example.com" })).toEqual([ids.cid]);
      expect(await filtered({ listId: lists.promo, email: "ann@example.com" })).toEqual([]);
      expect(await filtered({})).toEqual(Object.values(ids));
    });

    it("a filtered result pages like the full one", async () => {
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = (await t.ok(FILTER, { filter: { tag: "vip" }, first: 1, after }, key)).contacts;
        seen.push(...page.edges.map((e: any) => e.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual([ids.ann, ids.cid, ids.eve]);
    });
  });
});
