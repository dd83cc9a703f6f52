import { afterEach, describe, expect, it } from "vitest";
import { createApiKey } from "../../src/accounts/account.service.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { CONTACT_FIELDS, expectError, readContact } from "../helpers/graphql.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

const HOOK_FIELDS = "id status payload selection excludeOwnChanges";

describe.each(DRIVERS)("hook payload options on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup(): Promise<{ t: TestApp; r: Receiver }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_RETRY_SCHEDULE: "100ms,100ms" } });
    cleanups.push(() => t.stop());
    return { t, r };
  }

  async function createHook(t: TestApp, input: Record<string, unknown>, apiKey?: string) {
    const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { ${HOOK_FIELDS} } } }`, { input }, apiKey);
    expect(data.createHook.hook.status).toBe("ACTIVE");
    return data.createHook.hook as { id: string; payload: string; selection: string | null; excludeOwnChanges: boolean };
  }

  const at = (r: Receiver, path: string) => r.webhooks.filter((w) => w.path === path);

  it("FULL by default; SKINNY sends { id, __typename } and a fetch request that reads the contact with one GraphQL call", async () => {
    const { t, r } = await setup();
    const full = await createHook(t, { url: `${r.url}/full` });
    const skinny = await createHook(t, { url: `${r.url}/skinny`, payload: "SKINNY" });
    const skinnySelected = await createHook(t, { url: `${r.url}/skinny-selected`, payload: "SKINNY", selection: "{ id email tags }" });
    expect([full.payload, skinny.payload, skinnySelected.payload]).toEqual(["FULL", "SKINNY", "SKINNY"]);

    const id = (await t.ok(`mutation { createContact(input: { email: "ada@example.com", firstName: "Ada" }) { id } }`)).createContact.id;
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "vip") { id } }`, { c: id });
    for (const path of ["/full", "/skinny", "/skinny-selected"]) await waitFor(() => at(r, path).length === 2, { message: path });
    const contact = await readContact(t, id);

    const fullBodies = at(r, "/full").map((w) => w.json).sort((a, b) => a.sequence - b.sequence);
    expect(fullBodies.map((b) => b.type)).toEqual(["contact.created", "contact.tag_added"]);
    expect(fullBodies[1].data).toEqual(contact);
    expect(fullBodies[1]).not.toHaveProperty("fetch");

    const skinnyBody = at(r, "/skinny").map((w) => w.json).find((b) => b.type === "contact.tag_added");
    expect(skinnyBody.data).toEqual({ id, __typename: "Contact" });
    expect(skinnyBody).toMatchObject({ id: fullBodies[1].id, type: "contact.tag_added", source: "api", sequence: fullBodies[1].sequence, tag: "vip" });
    expect(skinnyBody.fetch.url).toBe(`${t.url}/graphql`);
    expect(skinnyBody.fetch.variables).toEqual({ id });

    // The receiver's one request, with its own API key, yields the full resource.
    const fetched = await fetch(skinnyBody.fetch.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.apiKey}` },
      body: JSON.stringify({ query: skinnyBody.fetch.query, variables: skinnyBody.fetch.variables }),
    }).then((res) => res.json());
    expect(fetched.errors).toBeUndefined();
    expect(fetched.data.contact).toEqual(contact);
    expect(fetched.data.contact).toEqual(fullBodies[1].data);

    // SKINNY with a selection: the fetch query selects exactly those fields.
    const selected = at(r, "/skinny-selected").map((w) => w.json).find((b) => b.type === "contact.tag_added");
    expect(selected.data).toEqual({ id, __typename: "Contact" });
    const fetchedSelected = await fetch(selected.fetch.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.apiKey}` },
      body: JSON.stringify({ query: selected.fetch.query, variables: selected.fetch.variables }),
    }).then((res) => res.json());
    expect(fetchedSelected.data.contact).toEqual({ id, email: "ada@example.com", tags: ["vip"] });

    // Other events than contact ones are sent in full whatever the mode.
    const list = (await t.ok(`mutation { createList(input: { name: "news" }) { id name createdAt } }`)).createList;
    await waitFor(() => at(r, "/skinny").some((w) => w.json.type === "list.created"));
    expect(at(r, "/skinny").find((w) => w.json.type === "list.created")!.json.data).toEqual(list);
  });

  it("a selection set delivers exactly its fields, computed from each event's snapshot rather than the current row", async () => {
    const { t, r } = await setup();
    const selection = `{
  id
  email
  tags
  lists { list { name } status }
  who: firstName
  __typename
}`;
    const hook = await createHook(t, { url: `${r.url}/sel`, selection, events: ["contact.created", "contact.tag_added", "contact.subscribed", "contact.updated"] });
    expect(hook.selection).toBe(selection);
    const list = (await t.ok(`mutation { createList(input: { name: "news" }) { id } }`)).createList.id;
    // Paused: the deliveries queue up, and are built only after the contact changed again.
    await t.ok(`mutation($id: ID!) { pauseHook(id: $id) { status } }`, { id: hook.id });
    const id = (await t.ok(`mutation { createContact(input: { email: "ada@example.com", firstName: "Ada" }) { id } }`)).createContact.id;
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "vip") { id } }`, { c: id });
    await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: id, l: list });
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { email: "lovelace@example.com", firstName: "Augusta" }) { id } }`, { c: id });
    await waitFor(async () => {
      const data = await t.ok(`query($id: ID!) { hook(id: $id) { stats { pending } } }`, { id: hook.id });
      return data.hook.stats.pending === 4;
    });
    await t.ok(`mutation($id: ID!) { resumeHook(id: $id) { status } }`, { id: hook.id });
    await waitFor(() => at(r, "/sel").length === 4);
    const bodies = at(r, "/sel").map((w) => w.json).sort((a, b) => a.sequence - b.sequence);
    expect(bodies.map((b) => [b.type, b.data])).toEqual([
      ["contact.created", { id, email: "ada@example.com", tags: [], lists: [], who: "Ada", __typename: "Contact" }],
      ["contact.tag_added", { id, email: "ada@example.com", tags: ["vip"], lists: [], who: "Ada", __typename: "Contact" }],
      ["contact.subscribed", { id, email: "ada@example.com", tags: ["vip"], lists: [{ list: { name: "news" }, status: "SUBSCRIBED" }], who: "Ada", __typename: "Contact" }],
      ["contact.updated", { id, email: "lovelace@example.com", tags: ["vip"], lists: [{ list: { name: "news" }, status: "SUBSCRIBED" }], who: "Augusta", __typename: "Contact" }],
    ]);
    // Exactly the selected keys, in the selection's order.
    expect(Object.keys(bodies[0].data)).toEqual(["id", "email", "tags", "lists", "who", "__typename"]);

    // updateHook changes the selection for what is sent from then on; null removes it.
    await t.ok(`mutation($id: ID!) { updateHook(id: $id, input: { selection: "{ email }" }) { id } }`, { id: hook.id });
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { lastName: "King" }) { id } }`, { c: id });
    await waitFor(() => at(r, "/sel").length === 5);
    expect(at(r, "/sel")[4].json.data).toEqual({ email: "lovelace@example.com" });
    const cleared = await t.ok(`mutation($id: ID!) { updateHook(id: $id, input: { selection: null }) { selection } }`, { id: hook.id });
    expect(cleared.updateHook.selection).toBeNull();
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { lastName: "Byron" }) { id } }`, { c: id });
    await waitFor(() => at(r, "/sel").length === 6);
    expect(at(r, "/sel")[5].json.data).toEqual(await readContact(t, id));
  });

  it("rejects invalid selections with INVALID_SELECTION, the GraphQL message and the location in the selection", async () => {
    const { t, r } = await setup();
    const create = (selection: string) => t.gql(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input: { url: `${r.url}/x`, selection } });

    let error = expectError(await create("{ id emial }"), "INVALID_SELECTION", "input.selection");
    expect(error.extensions!.graphqlMessage).toBe('Cannot query field "emial" on type "Contact". Did you mean "email"?');
    expect(error.extensions!.locations).toEqual([{ line: 1, column: 6 }]);

    error = expectError(await create("{\n  id\n  lists { list { nope } }\n}"), "INVALID_SELECTION", "input.selection");
    expect(error.extensions!.graphqlMessage).toMatch(/Cannot query field "nope" on type "List"/);
    expect(error.extensions!.locations).toEqual([{ line: 3, column: 18 }]);

    error = expectError(await create("{ id lists }"), "INVALID_SELECTION", "input.selection");
    expect(error.extensions!.graphqlMessage).toMatch(/must have a selection of subfields/);
    expect(error.extensions!.locations).toEqual([{ line: 1, column: 6 }]);

    error = expectError(await create("{ id email"), "INVALID_SELECTION", "input.selection");
    expect(error.extensions!.graphqlMessage).toMatch(/^Syntax Error/);
    expect(error.extensions!.locations).toEqual([{ line: 1, column: 11 }]);

    error = expectError(await create("{ id tags @include(if: $x) }"), "INVALID_SELECTION", "input.selection");
    expect(error.extensions!.graphqlMessage).toMatch(/Variable "\$x" is not defined/);

    error = expectError(await create("{ id } query Other { me { id } }"), "INVALID_SELECTION", "input.selection");
    expect(error.message).toMatch(/one selection set/);
    expect(error.extensions!.locations).toEqual([{ line: 1, column: 8 }]);

    error = expectError(await create("{ id unsubscribeUrl }"), "INVALID_SELECTION", "input.selection");
    expect(error.message).toMatch(/Contact.unsubscribeUrl is not part of event snapshots/);
    expect(error.extensions!.locations).toEqual([{ line: 1, column: 6 }]);

    expectError(await create(`{ ${"id ".repeat(1_400)}}`), "INVALID_SELECTION", "input.selection");

    // Nothing was created, no handshake was sent.
    expect((await t.ok(`{ hooks { id } }`)).hooks).toEqual([]);
    expect(r.handshakes).toHaveLength(0);

    // updateHook validates the same way and leaves the hook as it was.
    const hook = await createHook(t, { url: `${r.url}/ok`, selection: "{ id }" });
    error = expectError(await t.gql(`mutation($id: ID!) { updateHook(id: $id, input: { selection: "{ id phone { x } }" }) { id } }`, { id: hook.id }), "INVALID_SELECTION", "input.selection");
    expect(error.extensions!.locations).toEqual([{ line: 1, column: 12 }]);
    expect((await t.ok(`query($id: ID!) { hook(id: $id) { selection } }`, { id: hook.id })).hook.selection).toBe("{ id }");
    expectError(await t.gql(`mutation { createHook(input: { url: "${r.url}/p", payload: HALF }) { hook { id } } }`), "GRAPHQL_VALIDATION_FAILED");
  });

  it("excludeOwnChanges: events caused by the hook creator's API key never get a delivery; other keys' do; turning it off restores them", async () => {
    const { t, r } = await setup();
    const accountId = (await t.ok(`{ me { id } }`)).me.id;
    const other = await createApiKey(t.app.deps.db, accountId);
    const quiet = await createHook(t, { url: `${r.url}/quiet`, excludeOwnChanges: true });
    const loud = await createHook(t, { url: `${r.url}/loud` });
    expect([quiet.excludeOwnChanges, loud.excludeOwnChanges]).toEqual([true, false]);

    const mine = (await t.ok(`mutation { createContact(input: { email: "mine@example.com" }) { id } }`)).createContact.id;
    const theirs = (await t.ok(`mutation { createContact(input: { email: "theirs@example.com" }) { id } }`, {}, other.apiKey)).createContact.id;
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "echo") { id } }`, { c: theirs });
    await t.ok(`mutation($c: ID!) { tagContact(contactId: $c, tag: "other") { id } }`, { c: mine }, other.apiKey);

    await waitFor(() => at(r, "/loud").length === 4);
    await waitFor(() => at(r, "/quiet").length === 2);
    const seen = (path: string) => at(r, path).map((w) => [w.json.type, w.json.data.id]).sort();
    expect(seen("/loud")).toEqual([["contact.created", mine], ["contact.created", theirs], ["contact.tag_added", mine], ["contact.tag_added", theirs]].sort());
    expect(seen("/quiet")).toEqual([["contact.created", theirs], ["contact.tag_added", mine]].sort());
    // Suppressed at fan-out: the quiet hook has no delivery rows for its own changes at all.
    const deliveries = async (hookId: string) =>
      (await t.ok(`query($h: ID!) { deliveries(hookId: $h, first: 100) { edges { node { event { id type } } } } }`, { h: hookId })).deliveries.edges.length;
    expect(await deliveries(quiet.id)).toBe(2);
    expect(await deliveries(loud.id)).toBe(4);

    // The other way: with the flag off, the creator's changes are delivered again.
    await t.ok(`mutation($id: ID!) { updateHook(id: $id, input: { excludeOwnChanges: false }) { excludeOwnChanges } }`, { id: quiet.id });
    await t.ok(`mutation($c: ID!) { untagContact(contactId: $c, tag: "echo") { id } }`, { c: theirs });
    await waitFor(() => at(r, "/quiet").length === 3);
    expect(at(r, "/quiet")[2].json).toMatchObject({ type: "contact.tag_removed", source: "api", data: { id: theirs } });
    expect(await deliveries(quiet.id)).toBe(3);
  });

  it("excludeOwnChanges: replayEvents applies it too, and a bounce reported by the creator's key is suppressed", async () => {
    const { t, r } = await setup();
    const accountId = (await t.ok(`{ me { id } }`)).me.id;
    const other = await createApiKey(t.app.deps.db, accountId);
    const quiet = await createHook(t, { url: `${r.url}/quiet`, excludeOwnChanges: true });
    const loud = await createHook(t, { url: `${r.url}/loud` });

    const mine = (await t.ok(`mutation { createContact(input: { email: "mine@example.com" }) { id } }`)).createContact.id;
    const theirs = (await t.ok(`mutation { createContact(input: { email: "theirs@example.com" }) { id } }`, {}, other.apiKey)).createContact.id;
    // Bounces are source system whoever reports them, but keep the reporting key.
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: theirs });
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: mine }, other.apiKey);

    await waitFor(() => at(r, "/loud").length === 4);
    await waitFor(() => at(r, "/quiet").length === 2);
    const seen = (path: string) => at(r, path).map((w) => [w.json.type, w.json.source, w.json.data.id]).sort();
    expect(seen("/loud")).toEqual(
      [["contact.created", "api", mine], ["contact.created", "api", theirs], ["contact.bounced", "system", theirs], ["contact.bounced", "system", mine]].sort(),
    );
    // The bounce of `theirs` was reported by the hook's creator: not sent, not even queued.
    expect(seen("/quiet")).toEqual([["contact.created", "api", theirs], ["contact.bounced", "system", mine]].sort());
    const deliveredEvents = async (hookId: string) =>
      (await t.ok(`query($h: ID!) { deliveries(hookId: $h, first: 100) { edges { node { event { id } } } } }`, { h: hookId })).deliveries.edges.map((e: any) => e.node.event.id).sort();
    const quietEvents = await deliveredEvents(quiet.id);
    expect(quietEvents).toEqual(at(r, "/quiet").map((w) => w.json.id).sort());

    // Replaying the whole log re-sends only the other key's events: the creator's own two get
    // no delivery now either. The unfiltered hook, replayed alike, gets all four again.
    expect((await t.ok(`mutation($h: ID!) { replayEvents(hookId: $h) }`, { h: quiet.id })).replayEvents).toBe(2);
    expect((await t.ok(`mutation($h: ID!) { replayEvents(hookId: $h) }`, { h: loud.id })).replayEvents).toBe(4);
    await waitFor(() => at(r, "/loud").length === 8);
    await waitFor(() => at(r, "/quiet").length === 4);
    expect(await deliveredEvents(quiet.id)).toEqual(quietEvents);
    expect(at(r, "/quiet").slice(2).map((w) => w.json.id).sort()).toEqual(quietEvents);
  });

  it("the fetch query of SKINNY selects every snapshot field", async () => {
    const { FULL_CONTACT_SELECTION } = await import("../../src/delivery/payload.js");
    expect(FULL_CONTACT_SELECTION).toBe(`{ ${CONTACT_FIELDS} }`);
  });
});
