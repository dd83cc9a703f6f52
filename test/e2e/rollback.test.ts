import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountEntity } from "../../src/accounts/account.entity.js";
import { ContactEntity } from "../../src/contacts/contact.entity.js";
import { newId } from "../../src/shared/ids.js";
import { DRIVERS, occupySequence } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, createContact, expectError } from "../helpers/graphql.js";

/** Over HTTP: a mutation whose event cannot be written leaves no trace, and the client sees no internals. */
describe.each(DRIVERS)("rollback over HTTP on %s", (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(driver);
  });
  afterAll(() => t?.stop());

  it("createContact whose event insert fails: masked INTERNAL_SERVER_ERROR, no contact, no event, no sequence taken", async () => {
    const { accountId, apiKey: key } = await t.newAccount();
    await createContact(t, { email: "one@example.com" }, key);
    const release = await occupySequence(t.app.deps.db, accountId, 2);
    const r = await t.gql(`mutation { createContact(input: { email: "two@example.com" }) { id } }`, {}, key);
    const error = expectError(r, "INTERNAL_SERVER_ERROR");
    expect(error.message).toMatch(/^Internal server error \(reference [0-9a-f-]{36}\)$/);
    expect(r.data ?? null).toBeNull();
    await release();
    const listed = await t.ok(`{ contacts(filter: { email: "two@example.com" }) { edges { node { id } } } }`, {}, key);
    expect(listed.contacts.edges).toEqual([]);
    expect(await t.app.deps.db.read((m) => m.count(ContactEntity, { where: { accountId } }))).toBe(1);
    expect((await allEvents(t, key)).map((e) => e.sequence)).toEqual([1]);
    expect((await t.app.deps.db.read((m) => m.findOneOrFail(AccountEntity, { where: { id: accountId } }))).eventSeq).toBe(1);
    // The same request now succeeds and takes the next gap-free number.
    const two = await createContact(t, { email: "two@example.com" }, key);
    expect((await allEvents(t, key)).map((e) => [e.sequence, e.data.id])).toEqual([
      [1, expect.any(String)],
      [2, two.id],
    ]);
  });

  it("updateContact, tagContact, deleteContact and createList whose event insert fails leave everything as it was", async () => {
    const { accountId, apiKey: key } = await t.newAccount();
    const c = await createContact(t, { email: "same@example.com", firstName: "Same" }, key);
    const release = await occupySequence(t.app.deps.db, accountId, 2);
    expectError(await t.gql(`mutation($id: ID!) { updateContact(id: $id, input: { firstName: "Changed" }) { id } }`, { id: c.id }, key), "INTERNAL_SERVER_ERROR");
    expectError(await t.gql(`mutation($id: ID!) { tagContact(contactId: $id, tag: "t") { id } }`, { id: c.id }, key), "INTERNAL_SERVER_ERROR");
    expectError(await t.gql(`mutation($id: ID!) { deleteContact(id: $id) }`, { id: c.id }, key), "INTERNAL_SERVER_ERROR");
    expectError(await t.gql(`mutation { createList(input: { name: "L" }) { id } }`, {}, key), "INTERNAL_SERVER_ERROR");
    await release();
    expect((await t.ok(`{ lists { id } }`, {}, key)).lists).toEqual([]);
    const all = "id email firstName lastName phone fields tags lists { status } bounceCount bouncedAt createdAt updatedAt";
    expect((await t.ok(`query($id: ID!) { contact(id: $id) { ${all} } }`, { id: c.id }, key)).contact).toEqual({
      id: c.id, email: c.email, firstName: "Same", lastName: null, phone: null, fields: {}, tags: [], lists: [], bounceCount: 0, bouncedAt: null, createdAt: c.createdAt, updatedAt: c.updatedAt,
    });
    expect((await allEvents(t, key)).map((e) => e.sequence)).toEqual([1]);
  });

  it("a change run through deps.eventLog that throws after its insert and append leaves nothing visible over HTTP", async () => {
    const { accountId, apiKey: key } = await t.newAccount();
    await expect(
      t.app.deps.eventLog.change(accountId, async (change) => {
        const id = newId("con", change.now.getTime());
        await change.manager.insert(ContactEntity, {
          id, accountId, email: "ghost@example.com", emailKey: "ghost@example.com", fields: {}, bounceCount: 0, createdAt: change.now, updatedAt: change.now,
        } as never);
        change.append({ type: "contact.created", source: "api", data: { id }, contactId: id });
        throw new Error("fails after the change");
      }),
    ).rejects.toThrow("fails after the change");
    expect((await t.ok(`{ contacts { edges { node { id } } } }`, {}, key)).contacts.edges).toEqual([]);
    expect(await allEvents(t, key)).toEqual([]);
    const c = await createContact(t, { email: "ghost@example.com" }, key);
    expect((await allEvents(t, key)).map((e) => [e.sequence, e.data.id])).toEqual([[1, c.id]]);
  });
});
