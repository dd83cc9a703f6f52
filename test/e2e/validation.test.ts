import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, CONTACT_FIELDS, createContact, createList, expectError, readContact } from "../helpers/graphql.js";

const CREATE = `mutation($input: CreateContactInput!) { createContact(input: $input) { ${CONTACT_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { ${CONTACT_FIELDS} } }`;

/** An address of exactly `length` characters that is otherwise valid (labels of at most 63). */
function emailOfLength(length: number): string {
  const local = "a".repeat(60);
  let domain = "";
  while (local.length + 1 + domain.length + 4 < length) {
    const room = length - (local.length + 1 + domain.length + 4);
    domain += `${"d".repeat(Math.min(62, room - 1))}.`;
  }
  const email = `${local}@${domain}com`.padStart(length, "x");
  // padStart only ever adds to the local part, which stays <= 64 characters here.
  return email;
}

describe.each(DRIVERS)("input validation on %s", (driver) => {
  let t: TestApp;
  let key: string;
  let contactCount: () => Promise<number>;

  beforeAll(async () => {
    t = await startTestApp(driver);
    contactCount = async () => (await t.ok(`{ contacts(first: 100) { edges { node { id } } } }`, {}, key)).contacts.edges.length;
  });
  afterAll(() => t?.stop());
  beforeEach(async () => {
    key = (await t.newAccount()).apiKey;
  });

  /** Runs a failing request and asserts the code, the field, and that nothing was written. */
  async function expectRejected(query: string, variables: Record<string, unknown>, code: string, field?: string) {
    const eventsBefore = await allEvents(t, key);
    const contactsBefore = await contactCount();
    const r = await t.gql(query, variables, key);
    const error = expectError(r, code, field);
    expect(r.status).toBeLessThan(500);
    expect(await allEvents(t, key)).toEqual(eventsBefore);
    expect(await contactCount()).toBe(contactsBefore);
    return error;
  }

  describe("email", () => {
    it.each(["not-an-email", "a@b", "a b@example.com", "a@@example.com", "@example.com", "a@example..com", ".a@example.com", "a@-example.com", "a@example.com>", "   "])(
      "rejects %j on create and on update with BAD_USER_INPUT on input.email",
      async (email) => {
        await expectRejected(CREATE, { input: { email } }, "BAD_USER_INPUT", "input.email");
        const c = await createContact(t, { email: "valid@example.com" }, key);
        await expectRejected(UPDATE, { id: c.id, input: { email } }, "BAD_USER_INPUT", "input.email");
        expect(await readContact(t, c.id, key)).toEqual(c);
      },
    );

    it("accepts 254 characters and rejects 255 (create and update)", async () => {
      const longest = emailOfLength(254);
      expect(longest).toHaveLength(254);
      const c = await createContact(t, { email: longest }, key);
      expect(c.email).toBe(longest);
      expect((await readContact(t, c.id, key)).email).toBe(longest);
      const tooLong = emailOfLength(255);
      expect(tooLong).toHaveLength(255);
      const error = await expectRejected(CREATE, { input: { email: tooLong } }, "BAD_USER_INPUT", "input.email");
      expect(error.message).toMatch(/254/);
      await expectRejected(UPDATE, { id: c.id, input: { email: tooLong } }, "BAD_USER_INPUT", "input.email");
    });

    it("rejects a duplicate email, case-insensitively, with CONTACT_EXISTS on create", async () => {
      await createContact(t, { email: "Dup@Example.com" }, key);
      for (const email of ["Dup@Example.com", "dup@example.com", "DUP@EXAMPLE.COM", "  dup@example.COM "]) {
        const error = await expectRejected(CREATE, { input: { email } }, "CONTACT_EXISTS", "input.email");
        expect(error.message).toContain(email.trim());
      }
      // The failed inserts took no sequence numbers: the next event is 2.
      await createContact(t, { email: "next@example.com" }, key);
      expect((await allEvents(t, key)).map((e) => e.sequence)).toEqual([1, 2]);
    });

    it("rejects a duplicate email, case-insensitively, with CONTACT_EXISTS on update, leaving both contacts as they were", async () => {
      const x = await createContact(t, { email: "x@example.com", firstName: "X" }, key);
      const y = await createContact(t, { email: "y@example.com", firstName: "Y" }, key);
      await expectRejected(UPDATE, { id: y.id, input: { email: "X@EXAMPLE.COM", firstName: "Changed" } }, "CONTACT_EXISTS", "input.email");
      expect(await readContact(t, x.id, key)).toEqual(x);
      expect(await readContact(t, y.id, key)).toEqual(y);
      // Changing the case of one's own address is not a duplicate.
      const recased = (await t.ok(UPDATE, { id: x.id, input: { email: "X@Example.com" } }, key)).updateContact;
      expect(recased.email).toBe("X@Example.com");
    });

    it("rejects clearing the email", async () => {
      const c = await createContact(t, { email: "keep@example.com" }, key);
      await expectRejected(UPDATE, { id: c.id, input: { email: null } }, "BAD_USER_INPUT", "input.email");
    });
  });

  describe("string lengths", () => {
    it.each([
      ["firstName", 255],
      ["lastName", 255],
      ["phone", 64],
    ] as const)("%s: accepts %i characters (multi-byte too) and rejects one more, on create and on update", async (name, max) => {
      const fits = "é".repeat(max);
      const c = await createContact(t, { email: `fits-${name}@example.com`, [name]: fits }, key);
      expect(c[name]).toBe(fits);
      expect((await readContact(t, c.id, key))[name]).toBe(fits);
      const error = await expectRejected(CREATE, { input: { email: `long-${name}@example.com`, [name]: "x".repeat(max + 1) } }, "BAD_USER_INPUT", `input.${name}`);
      expect(error.message).toContain(String(max));
      await expectRejected(UPDATE, { id: c.id, input: { [name]: "x".repeat(max + 1) } }, "BAD_USER_INPUT", `input.${name}`);
      expect((await readContact(t, c.id, key))[name]).toBe(fits);
    });

    it("rejects control characters", async () => {
      await expectRejected(CREATE, { input: { email: "ctl@example.com", firstName: "a\u0000b" } }, "BAD_USER_INPUT", "input.firstName");
    });

    it("rejects an empty or too-long tag on tagContact", async () => {
      const c = await createContact(t, { email: "tags@example.com" }, key);
      const tag = `mutation($c: ID!, $tag: String!) { tagContact(contactId: $c, tag: $tag) { id } }`;
      await expectRejected(tag, { c: c.id, tag: "   " }, "BAD_USER_INPUT", "tag");
      await expectRejected(tag, { c: c.id, tag: "t".repeat(101) }, "BAD_USER_INPUT", "tag");
      await t.ok(tag, { c: c.id, tag: "t".repeat(100) }, key);
    });

    it("rejects an empty, too-long or duplicate list name", async () => {
      const create = `mutation($name: String!) { createList(input: { name: $name }) { id } }`;
      await expectRejected(create, { name: "" }, "BAD_USER_INPUT", "input.name");
      await expectRejected(create, { name: "n".repeat(201) }, "BAD_USER_INPUT", "input.name");
      await createList(t, "n".repeat(200), key);
      await expectRejected(create, { name: "n".repeat(200) }, "LIST_EXISTS", "input.name");
    });
  });

  describe("fields", () => {
    it.each([
      ["an array", [1, 2]],
      ["a string", "plan=gold"],
      ["a number", 42],
    ])("rejects %s given as the fields variable with BAD_USER_INPUT naming the variable", async (_kind, value) => {
      const query = `mutation($fields: JSONObject) { createContact(input: { email: "f@example.com", fields: $fields }) { id } }`;
      const r = await t.gql(query, { fields: value }, key);
      expectError(r, "BAD_USER_INPUT", "$fields");
      expect(r.status).toBe(400);
    });

    it.each([
      ["an array", ["a"]],
      ["a string", "plan=gold"],
    ])("rejects %s inside the input variable, on create and on update", async (_kind, value) => {
      const r = await t.gql(CREATE, { input: { email: "f@example.com", fields: value } }, key);
      expectError(r, "BAD_USER_INPUT", "$input.fields");
      const c = await createContact(t, { email: "g@example.com", fields: { a: 1 } }, key);
      expectError(await t.gql(UPDATE, { id: c.id, input: { fields: value } }, key), "BAD_USER_INPUT", "$input.fields");
      expect(await readContact(t, c.id, key)).toEqual(c);
      expect(await contactCount()).toBe(1);
    });

    it("accepts 16 KB of JSON and rejects one byte more, on create and on update", async () => {
      const overhead = JSON.stringify({ blob: "" }).length;
      const fits = { blob: "x".repeat(16_384 - overhead) };
      expect(JSON.stringify(fits)).toHaveLength(16_384);
      const c = await createContact(t, { email: "big@example.com", fields: fits }, key);
      expect((await readContact(t, c.id, key)).fields).toEqual(fits);
      const tooBig = { blob: "x".repeat(16_385 - overhead) };
      const error = await expectRejected(CREATE, { input: { email: "big2@example.com", fields: tooBig } }, "BAD_USER_INPUT", "input.fields");
      expect(error.message).toMatch(/16384/);
      await expectRejected(UPDATE, { id: c.id, input: { fields: tooBig } }, "BAD_USER_INPUT", "input.fields");
      // Bytes, not characters: 6,000 three-byte characters are 18 KB.
      await expectRejected(CREATE, { input: { email: "big3@example.com", fields: { s: "€".repeat(6_000) } } }, "BAD_USER_INPUT", "input.fields");
      expect((await readContact(t, c.id, key)).fields).toEqual(fits);
    });
  });

  describe("unknown ids", () => {
    const unknownContact = "con_01zzzzzzzzzzzzzzzzzzzzzzzz";
    const unknownList = "lst_01zzzzzzzzzzzzzzzzzzzzzzzz";
    it.each([
      ["contact", `query($id: ID!) { contact(id: $id) { id } }`, { id: unknownContact }, "id"],
      ["updateContact", `mutation($id: ID!) { updateContact(id: $id, input: { firstName: "x" }) { id } }`, { id: unknownContact }, "id"],
      ["deleteContact", `mutation($id: ID!) { deleteContact(id: $id) }`, { id: unknownContact }, "id"],
      ["tagContact", `mutation($c: ID!) { tagContact(contactId: $c, tag: "x") { id } }`, { c: unknownContact }, "contactId"],
      ["untagContact", `mutation($c: ID!) { untagContact(contactId: $c, tag: "x") { id } }`, { c: unknownContact }, "contactId"],
      ["recordBounce", `mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: unknownContact }, "contactId"],
      ["subscribeContact (contact)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: unknownContact, l: "LIST" }, "contactId"],
      ["subscribeContact (list)", `mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: "CONTACT", l: unknownList }, "listId"],
      ["unsubscribeContact (list)", `mutation($c: ID!, $l: ID!) { unsubscribeContact(contactId: $c, listId: $l) { id } }`, { c: "CONTACT", l: unknownList }, "listId"],
    ] as const)("%s answers NOT_FOUND with the field", async (_name, query, vars, field) => {
      const c = await createContact(t, { email: "known@example.com" }, key);
      const l = await createList(t, "known", key);
      const variables = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v === "CONTACT" ? c.id : v === "LIST" ? l.id : v]));
      const error = await expectRejected(query, variables, "NOT_FOUND", field);
      expect(error.message).toMatch(/not found/);
      expect(await readContact(t, c.id, key)).toEqual(c);
    });
  });

  describe("paging arguments", () => {
    it.each([
      ["garbage", "not a cursor!"],
      ["empty base64", "Zm9v"],
      ["an events cursor", Buffer.from("seq:3").toString("base64url")],
      ["a bare id", "con_01zzzzzzzzzzzzzzzzzzzzzzzz"],
    ])("contacts(after: %s) answers INVALID_CURSOR", async (_name, after) => {
      await expectRejected(`query($after: String) { contacts(after: $after) { edges { cursor } } }`, { after }, "INVALID_CURSOR", "after");
    });

    it.each([
      ["garbage", "not a cursor!"],
      ["a contacts cursor", Buffer.from("con:con_01zzzzzzzzzzzzzzzzzzzzzzzz").toString("base64url")],
      ["a non-numeric sequence", Buffer.from("seq:abc").toString("base64url")],
      ["a negative sequence", Buffer.from("seq:-1").toString("base64url")],
    ])("events(after: %s) answers INVALID_CURSOR", async (_name, after) => {
      await expectRejected(`query($after: String) { events(after: $after) { edges { cursor } } }`, { after }, "INVALID_CURSOR", "after");
    });

    it.each([0, -1, 101, 1_000_000])("contacts(first: %i) answers BAD_USER_INPUT on first", async (first) => {
      await expectRejected(`query($first: Int) { contacts(first: $first) { edges { cursor } } }`, { first }, "BAD_USER_INPUT", "first");
    });

    it.each([0, -5, 501])("events(first: %i) answers BAD_USER_INPUT on first", async (first) => {
      await expectRejected(`query($first: Int) { events(first: $first) { edges { cursor } } }`, { first }, "BAD_USER_INPUT", "first");
    });

    it("accepts the bounds: contacts(first: 1 and 100), events(first: 1 and 500)", async () => {
      for (const first of [1, 100]) await t.ok(`query($first: Int) { contacts(first: $first) { edges { cursor } } }`, { first }, key);
      for (const first of [1, 500]) await t.ok(`query($first: Int) { events(first: $first) { edges { cursor } } }`, { first }, key);
    });

    it("events(types) with an unknown type answers BAD_USER_INPUT on types", async () => {
      for (const types of [["contact.nope"], ["contact.created", "Contact.Created"], ["*"]]) {
        const error = await expectRejected(`query($types: [String!]) { events(types: $types) { edges { cursor } } }`, { types }, "BAD_USER_INPUT", "types");
        expect(error.message).toMatch(/unknown event type/);
      }
    });
  });

  it("answers malformed GraphQL with stable codes and no internals", async () => {
    expectError(await t.gql(`{ contacts { edges { node { id } }`, {}, key), "GRAPHQL_PARSE_FAILED");
    expectError(await t.gql(`{ contacts { nope } }`, {}, key), "GRAPHQL_VALIDATION_FAILED");
    expectError(await t.gql(`mutation { createContact(input: { email: "a@example.com", fields: [1] }) { id } }`, {}, key), "GRAPHQL_VALIDATION_FAILED");
  });
});
