/**
 * Order of delivery (issue 6, item 5) end to end on both drivers, in one process: a real
 * receiver that fails some requests, so that ordering has to hold across retries.
 * (Two worker processes on MySQL: ordering-multi-process.test.ts.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { startReceiver, type Received, type Receiver } from "../helpers/receiver.js";

describe.each(DRIVERS)("order of delivery on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup(env: Record<string, string> = {}): Promise<{ t: TestApp; r: Receiver }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_RETRY_SCHEDULE: "30ms,30ms,30ms,30ms,30ms,30ms,30ms,30ms", ...env } });
    cleanups.push(() => t.stop());
    return { t, r };
  }

  async function createHook(t: TestApp, input: Record<string, unknown>): Promise<string> {
    const data = await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id status ordering } } }`, { input });
    expect(data.createHook.hook).toMatchObject({ status: "ACTIVE", ordering: input.ordering ?? "NONE" });
    return data.createHook.hook.id;
  }

  /** Several events for each of `n` contacts, interleaved: created, then rounds of updates and tags. */
  async function produce(t: TestApp, n: number, rounds: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await t.ok(`mutation($e: String!) { createContact(input: { email: $e }) { id } }`, { e: `${tag}${i}@example.com` })).createContact.id);
    for (let round = 0; round < rounds; round++) {
      for (const id of ids) {
        if (round % 2 === 0) await t.ok(`mutation($id: ID!, $n: String!) { updateContact(id: $id, input: { lastName: $n }) { id } }`, { id, n: `r${round}` });
        else await t.ok(`mutation($id: ID!, $tag: String!) { tagContact(contactId: $id, tag: $tag) { id } }`, { id, tag: `t${round}` });
      }
    }
    return ids;
  }

  /** The hook's events by sequence: contact id and sequence. */
  async function expectedOf(t: TestApp, types: string[]): Promise<Array<{ sequence: number; contact: string }>> {
    const data = await t.ok(`{ events(first: 500) { edges { node { type sequence data } } } }`);
    return data.events.edges.map((e: any) => e.node).filter((e: any) => types.includes(e.type)).map((e: any) => ({ sequence: e.sequence, contact: e.data.id }));
  }

  /** Requests at `path`, and their answers' success, in arrival order. */
  function requestsAt(r: Receiver, path: string, ok: Map<Received, boolean>): Array<{ sequence: number; contact: string; ok: boolean }> {
    return r.webhooks.filter((w) => w.path === path).map((w) => ({ sequence: w.json.sequence, contact: w.json.data.id, ok: ok.get(w) ?? false }));
  }

  /**
   * The receiver's view of an ordered stream: requests (retries included) never go back in
   * sequence, and the accepted ones are exactly the expected sequences, in order, each once.
   */
  function expectInOrder(got: Array<{ sequence: number; ok: boolean }>, expected: number[], label: string): void {
    const seen = got.map((g) => g.sequence);
    for (let i = 1; i < seen.length; i++) expect(seen[i], `${label}: request ${i} went back (${seen.join(",")})`).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(got.filter((g) => g.ok).map((g) => g.sequence), label).toEqual(expected);
  }

  /** A receiver answer that fails the first try of every third event and records what it answered. */
  function failEveryThird(r: Receiver, ok: Map<Received, boolean>): void {
    const tried = new Set<string>();
    r.answer = (req) => {
      const key = `${req.path} ${req.json.sequence}`;
      const fail = req.json.sequence % 3 === 0 && !tried.has(key);
      tried.add(key);
      ok.set(req, !fail);
      return fail ? { status: 500 } : { status: 200 };
    };
  }

  it("PER_CONTACT: each contact's events arrive in sequence order across retries; NONE alongside gets them all", async () => {
    // Retries slower than the contact's next events: without ordering, those would overtake.
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: Array(8).fill("200ms").join(",") });
    const ok = new Map<Received, boolean>();
    failEveryThird(r, ok);
    const types = ["contact.created", "contact.updated", "contact.tag_added"];
    await createHook(t, { url: `${r.url}/per-contact`, events: types, ordering: "PER_CONTACT" });
    await createHook(t, { url: `${r.url}/none`, events: types });
    const contacts = await produce(t, 3, 4, "pc");
    const expected = await expectedOf(t, types);
    expect(expected).toHaveLength(15);

    const accepted = (path: string) => requestsAt(r, path, ok).filter((g) => g.ok).length;
    await waitFor(() => accepted("/per-contact") === 15 && accepted("/none") === 15, { timeoutMs: 20_000 });
    const got = requestsAt(r, "/per-contact", ok);
    for (const c of contacts) {
      expectInOrder(
        got.filter((g) => g.contact === c),
        expected.filter((e) => e.contact === c).map((e) => e.sequence),
        `contact ${c}`,
      );
    }
    // Retries happened (so the order was tested across them), and the unordered hook lost nothing.
    expect(got.filter((g) => !g.ok).length).toBeGreaterThan(0);
    expect(new Set(requestsAt(r, "/none", ok).filter((g) => g.ok).map((g) => g.sequence))).toEqual(new Set(expected.map((e) => e.sequence)));
  });

  it("PER_CONTACT: a failing contact holds back only its own later events (head-of-line), then they follow in order", async () => {
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: Array(40).fill("50ms").join(",") });
    let blocked = "";
    r.answer = (req) => (req.json.data.id === blocked ? { status: 503 } : { status: 200 });
    const types = ["contact.created", "contact.updated", "contact.tag_added"];
    const hookId = await createHook(t, { url: `${r.url}/h`, events: types, ordering: "PER_CONTACT" });
    const [a] = await produce(t, 1, 0, "hol-a");
    blocked = a;
    await t.ok(`mutation($id: ID!) { updateContact(id: $id, input: { lastName: "x" }) { id } }`, { id: a });
    await t.ok(`mutation($id: ID!) { tagContact(contactId: $id, tag: "y") { id } }`, { id: a });
    const others = await produce(t, 2, 2, "hol-b");
    const expected = await expectedOf(t, types);

    const fromA = () => r.webhooks.filter((w) => w.json.data.id === a).map((w) => w.json.sequence);
    const [created, updated, tagged] = expected.filter((e) => e.contact === a).map((e) => e.sequence);

    // Every other contact's events arrive while A's update keeps failing; A's tag waits behind it.
    await waitFor(() => others.every((c) => r.webhooks.filter((w) => w.json.data.id === c).length === 3));
    await waitFor(() => fromA().filter((s) => s === updated).length >= 3);
    expect(new Set(fromA())).toEqual(new Set([created, updated]));
    const held = await t.ok(`query($id: ID!) { deliveries(hookId: $id, status: PENDING) { edges { node { event { sequence } } } } }`, { id: hookId });
    expect(held.deliveries.edges.map((e: any) => e.node.event.sequence)).toEqual([tagged]);

    blocked = "";
    await waitFor(() => fromA().includes(tagged));
    const order = fromA();
    expect([...new Set(order)]).toEqual([created, updated, tagged]);
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThanOrEqual(order[i - 1]);
    expect(order.filter((s) => s === tagged)).toHaveLength(1);
  });

  it("STRICT: the hook's whole stream in sequence order across retries", async () => {
    const { t, r } = await setup();
    const ok = new Map<Received, boolean>();
    failEveryThird(r, ok);
    const types = ["contact.created", "contact.updated", "contact.tag_added"];
    await createHook(t, { url: `${r.url}/strict`, events: types, ordering: "STRICT" });
    await produce(t, 3, 3, "st");
    const expected = await expectedOf(t, types);
    await waitFor(() => requestsAt(r, "/strict", ok).filter((g) => g.ok).length === expected.length, { timeoutMs: 20_000 });
    expectInOrder(requestsAt(r, "/strict", ok), expected.map((e) => e.sequence), "strict");
    expect(requestsAt(r, "/strict", ok).filter((g) => !g.ok).length).toBeGreaterThan(0);
  });

  it("STRICT: after the head is DEAD the deliveries behind it are sent, in order", async () => {
    const { t, r } = await setup({ HOOKCAST_RETRY_SCHEDULE: "30ms,30ms" });
    const hookId = await createHook(t, { url: `${r.url}/strict`, events: ["contact.created"], ordering: "STRICT" });
    const doomed = 1;
    r.answer = (req) => (req.json.sequence === doomed ? { status: 500 } : { status: 200 });
    await produce(t, 4, 0, "dead");
    await waitFor(() => r.webhooks.filter((w) => w.json.sequence !== doomed).length === 3);
    expect(r.webhooks.map((w) => w.json.sequence)).toEqual([1, 1, 1, 2, 3, 4]);
    const rows = await waitFor(async () => {
      const data = await t.ok(`query($id: ID!) { deliveries(hookId: $id) { edges { node { status event { sequence } } } } }`, { id: hookId });
      const list = data.deliveries.edges.map((e: any) => [e.node.event.sequence, e.node.status]).sort((x: any, y: any) => x[0] - y[0]);
      return list.filter((x: any) => x[1] === "DELIVERED").length === 3 ? list : null;
    });
    expect(rows).toEqual([
      [1, "DEAD"],
      [2, "DELIVERED"],
      [3, "DELIVERED"],
      [4, "DELIVERED"],
    ]);
  });
});
