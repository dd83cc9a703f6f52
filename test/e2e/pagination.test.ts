import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/shared/clock.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, createContact, eventsPage, type EventNode } from "../helpers/graphql.js";

const PAGE = `query($first: Int, $after: String, $filter: ContactFilter) {
  contacts(first: $first, after: $after, filter: $filter) { edges { cursor node { id email } } pageInfo { hasNextPage endCursor } }
}`;

/** Pages through `contacts` by `first`, calling `between` after each page; returns the ids in order. */
async function pageContacts(t: TestApp, key: string, first: number, filter?: Record<string, unknown>, between?: (page: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let page = 0; ; page++) {
    const data: any = await t.ok(PAGE, { first, after, filter }, key);
    const { edges, pageInfo } = data.contacts;
    expect(edges.length).toBeLessThanOrEqual(first);
    if (edges.length) expect(pageInfo.endCursor).toBe(edges[edges.length - 1].cursor);
    ids.push(...edges.map((e: any) => e.node.id));
    if (!pageInfo.hasNextPage) {
      expect(page).toBeLessThan(1_000);
      return ids;
    }
    expect(edges).toHaveLength(first);
    after = pageInfo.endCursor;
    await between?.(page);
  }
}

describe.each(DRIVERS)("cursor pagination on %s", (driver) => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await startTestApp(driver);
  });
  afterAll(() => t?.stop());
  beforeEach(async () => {
    key = (await t.newAccount()).apiKey;
  });

  async function seed(n: number, prefix = "c"): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await createContact(t, { email: `${prefix}${i}@example.com` }, key)).id);
    return ids;
  }

  it("contacts(first, after) visits every contact once, in creation order, for any page size", async () => {
    const ids = await seed(23);
    for (const first of [1, 5, 22, 23, 24, 100]) expect(await pageContacts(t, key, first), `first: ${first}`).toEqual(ids);
    const empty = await t.ok(PAGE, { first: 5, after: null }, (await t.newAccount()).apiKey);
    expect(empty.contacts).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    // The default page is 20.
    expect((await t.ok(PAGE, {}, key)).contacts.edges).toHaveLength(20);
  });

  it("contacts: inserts and deletes between pages cause no duplicates or skips; new contacts appear at the end", async () => {
    const ids = await seed(20);
    const added: string[] = [];
    const deleted = new Set<string>();
    const seen = await pageContacts(t, key, 6, undefined, async (page) => {
      added.push((await createContact(t, { email: `late${page}@example.com` }, key)).id);
      // Deleting a contact already seen must not shift the next page.
      const victim = ids[page * 6];
      await t.ok(`mutation($id: ID!) { deleteContact(id: $id) }`, { id: victim }, key);
      deleted.add(victim);
    });
    // Every victim had been seen on an earlier page before it was deleted.
    expect(deleted.size).toBe(added.length);
    expect(seen).toEqual([...ids, ...added]);
    const remaining = await pageContacts(t, key, 100);
    expect(remaining).toEqual([...ids, ...added].filter((id) => !deleted.has(id)));
  });

  it("events(after, first) visits every event once, in sequence order; an idle cursor stays put and resumes", async () => {
    const ids = await seed(12);
    for (const id of ids.slice(0, 6)) await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "t") { id } }`, { c: id }, key);
    const log = await allEvents(t, key);
    expect(log.map((e) => e.sequence)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    for (const first of [1, 4, 17, 18, 19]) {
      const seen: EventNode[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await eventsPage(t, { after, first }, key);
        seen.push(...page.edges.map((e) => e.node));
        page.edges.forEach((e) => expect(e.cursor).toBe(e.node.cursor));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen, `first: ${first}`).toEqual(log);
    }
    // At the end, the cursor stays where the caller was, and picks up the next change.
    const last = log[log.length - 1].cursor;
    const idle = await eventsPage(t, { after: last }, key);
    expect(idle).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: last } });
    const next = await createContact(t, { email: "next@example.com" }, key);
    const resumed = await eventsPage(t, { after: idle.pageInfo.endCursor }, key);
    expect(resumed.edges.map((e) => [e.node.sequence, e.node.data.id])).toEqual([[19, next.id]]);
  });

  it("events(types) pages through one type only, with cursors that skip the others", async () => {
    const ids = await seed(9);
    for (const id of ids) await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "t") { id } }`, { c: id }, key);
    for (const id of ids.slice(0, 3)) await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: id }, key);
    const tagged: EventNode[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await eventsPage(t, { after, first: 4, types: ["contact.tag_added"] }, key);
      tagged.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(tagged.map((e) => e.type)).toEqual(Array(9).fill("contact.tag_added"));
    expect(tagged.map((e) => e.sequence)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(tagged.map((e) => e.data.id)).toEqual(ids);
    const two = await allEvents(t, key, ["contact.bounced", "contact.created"]);
    expect(two.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 19, 20, 21]);
    // A type cursor resumes in the unfiltered log too.
    const rest = await eventsPage(t, { after: tagged[8].cursor }, key);
    expect(rest.edges.map((e) => e.node.sequence)).toEqual([19, 20, 21]);
  });

  it("events: a reader paging while 40 contacts are created concurrently sees every sequence exactly once, in order", async () => {
    const total = 40;
    let settled = 0;
    const writes = Array.from({ length: total }, (_, i) =>
      createContact(t, { email: `burst${i}@example.com` }, key).finally(() => {
        settled++;
      }),
    );
    const seen: number[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const done = settled === total;
      const page = await eventsPage(t, { after, first: 3 }, key);
      pages++;
      seen.push(...page.edges.map((e) => e.node.sequence));
      after = page.pageInfo.endCursor;
      // Stop only on an empty page that began after every write had settled.
      if (done && page.edges.length === 0) break;
      expect(pages).toBeLessThan(500);
    }
    await Promise.all(writes);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
});

describe.each(DRIVERS)("contacts made within one millisecond on %s", (driver) => {
  // A clock that never moves: every id is minted in the same millisecond (a burst of inserts).
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(driver, { overrides: { clock: new ManualClock(new Date("2030-01-01T00:00:00.000Z")) } });
  });
  afterAll(() => t?.stop());

  it("are listed in creation order, and one created between pages is not skipped", async () => {
    const { apiKey: key } = await t.newAccount();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await createContact(t, { email: `same${i}@example.com` }, key)).id);
    expect(await pageContacts(t, key, 100)).toEqual(ids);
    const added: string[] = [];
    const seen = await pageContacts(t, key, 4, undefined, async (page) => {
      added.push((await createContact(t, { email: `between${page}@example.com` }, key)).id);
    });
    expect(seen).toEqual([...ids, ...added]);
  });
});
