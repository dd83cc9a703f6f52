import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";

describe.each(DRIVERS)("smoke on %s", (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(driver);
  });
  afterAll(() => t?.stop());

  it("creates a contact whose contact.created event carries exactly the contact query's answer", async () => {
    const all = "id email firstName lastName phone fields tags lists { list { id name createdAt } status subscribedAt unsubscribedAt } bounceCount bouncedAt createdAt updatedAt";
    const created = await t.ok(`mutation { createContact(input: { email: "ada@example.com", firstName: "Ada" }) { id } }`);
    const id = created.createContact.id;
    const read = await t.ok(`query($id: ID!) { contact(id: $id) { ${all} } }`, { id });
    const events = await t.ok(`{ events { edges { node { type source sequence data } } } }`);
    const node = events.events.edges[0].node;
    expect(node.type).toBe("contact.created");
    expect(node.source).toBe("api");
    expect(node.sequence).toBe(1);
    expect(node.data).toEqual(read.contact);
  });
});
