import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, createContact, createList, expectError } from "../helpers/graphql.js";

// MySQL's default collation (utf8mb4_unicode_ci) would make these pairs equal; SQLite compares
// bytes. Both drivers must answer the same: tags, list names and emails compare exactly
// (emails after lower-casing).
describe.each(DRIVERS)("text keys compare exactly on %s", (driver) => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await startTestApp(driver);
    key = (await t.newAccount()).apiKey;
  });
  afterAll(() => t?.stop());

  it("tags differing in case or accents are different tags, each with its own event", async () => {
    const contact = await createContact(t, { email: "tags@example.com" }, key);
    for (const tag of ["VIP", "vip", "café", "cafe"]) {
      await t.ok(`mutation($c: ID!, $t: String!) { tagContact(contactId: $c, tag: $t) { id } }`, { c: contact.id, t: tag }, key);
    }
    const { contact: read } = await t.ok(`query($id: ID!) { contact(id: $id) { tags } }`, { id: contact.id }, key);
    expect([...read.tags].sort()).toEqual(["VIP", "cafe", "café", "vip"].sort());
    const added = (await allEvents(t, key, ["contact.tag_added"])).filter((e) => e.data.id === contact.id);
    expect(added.map((e: any) => e.data.tags.length)).toEqual([1, 2, 3, 4]);

    const byTag = await t.ok(`query($t: String!) { contacts(first: 10, filter: { tag: $t }) { edges { node { id } } } }`, { t: "vip" }, key);
    expect(byTag.contacts.edges.map((e: any) => e.node.id)).toEqual([contact.id]);
    await t.ok(`mutation($c: ID!) { untagContact(contactId: $c, tag: "vip") { id } }`, { c: contact.id }, key);
    const after = await t.ok(`query($id: ID!) { contact(id: $id) { tags } }`, { id: contact.id }, key);
    expect([...after.contact.tags].sort()).toEqual(["VIP", "cafe", "café"].sort());
  });

  it("list names differing in case are different lists, ordered by bytes on both drivers", async () => {
    const own = (await t.newAccount()).apiKey;
    await createList(t, "news", own);
    await createList(t, "News", own);
    await createList(t, "Éclair", own);
    expectError(await t.gql(`mutation { createList(input: { name: "News" }) { id } }`, {}, own), "LIST_EXISTS", "input.name");
    const { lists } = await t.ok(`{ lists { name } }`, {}, own);
    expect(lists.map((l: any) => l.name)).toEqual(["News", "news", "Éclair"]);
  });

  it("emails are one contact per lower-cased address, but accents make a different address", async () => {
    await createContact(t, { email: "jose@example.com" }, key);
    expectError(await t.gql(`mutation { createContact(input: { email: "JOSE@example.com" }) { id } }`, {}, key), "CONTACT_EXISTS", "input.email");
    const accented = await createContact(t, { email: "josé@example.com" }, key);
    expect(accented.email).toBe("josé@example.com");
  });
});
