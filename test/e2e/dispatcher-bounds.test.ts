import { createConnection, type Connection } from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

/**
 * How far a worker runs ahead of its outcome writes. A request's slot is freed when the response
 * is in, so slow writes do not slow sending; but a sent delivery whose outcome is not written is
 * still leased and would be sent again after a crash, so sending stops once `2 × concurrency`
 * deliveries are in flight or answered-but-unrecorded. MySQL only: the writes are held back by a
 * row lock on the hook (the outcome batch refreshes the hook's health), which claims never take.
 */
describe("dispatcher bounds on mysql", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  const CONCURRENCY = 4;
  const CONTACTS = 40;

  async function setup(): Promise<{ t: TestApp; r: Receiver; hookId: string }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp("mysql", { env: { HOOKCAST_DELIVERY_CONCURRENCY: String(CONCURRENCY), HOOKCAST_PER_HOOK_IN_FLIGHT: String(CONCURRENCY) } });
    cleanups.push(() => t.stop());
    const hookId = (await t.ok(`mutation($url: String!) { createHook(input: { url: $url, events: ["contact.created"] }) { hook { id status } } }`, { url: `${r.url}/hook` })).createHook.hook.id as string;
    return { t, r, hookId };
  }

  /** Holds the hook's row lock in a transaction of its own until `release` (outcome writes wait on it). */
  async function lockHook(databaseUrl: string, hookId: string): Promise<{ release: () => Promise<void> }> {
    const conn: Connection = await createConnection({ uri: databaseUrl });
    await conn.query("START TRANSACTION");
    const [rows] = await conn.query("SELECT id FROM hooks WHERE id = ? FOR UPDATE", [hookId]);
    expect(rows).toHaveLength(1);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await conn.query("COMMIT");
      await conn.end();
    };
    cleanups.push(release);
    return { release };
  }

  it("keeps sending while outcome writes wait, up to 2 × concurrency unrecorded, then catches up without a duplicate", async () => {
    const { t, r, hookId } = await setup();
    const lock = await lockHook(t.databaseUrl, hookId);
    for (let i = 0; i < CONTACTS; i++) {
      await t.ok(`mutation($email: String!) { createContact(input: { email: $email }) { id } }`, { email: `bound-${i}@example.com` });
    }

    // More than `concurrency` requests go out although no outcome can be written (slots are not
    // held by the writes), and no more than 2 × concurrency (the duplicate-after-crash bound).
    await waitFor(() => r.webhooks.length >= 2 * CONCURRENCY, { timeoutMs: 15_000, message: `received ${r.webhooks.length}` });
    const settled = r.webhooks.length;
    // Absence can only be observed over time: well past the poll period (20 ms), the ready
    // wait (≤ 1 s) and several claim rounds, nothing more was sent.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(r.webhooks.length).toBe(settled);
    expect(settled).toBe(2 * CONCURRENCY);

    await lock.release();
    await waitFor(() => new Set(r.webhooks.map((w) => w.headers["webhook-id"])).size >= CONTACTS, { timeoutMs: 30_000, message: `received ${r.webhooks.length}` });
    const ids = r.webhooks.map((w) => w.headers["webhook-id"] as string);
    expect(new Set(ids).size).toBe(ids.length);
    const statuses = await waitFor(async () => {
      const data = await t.ok(`query($id: ID!) { deliveries(hookId: $id, first: 100) { edges { node { status attemptCount } } } }`, { id: hookId });
      const nodes = data.deliveries.edges.map((e: any) => e.node);
      return nodes.length === CONTACTS && nodes.every((n: any) => n.status === "DELIVERED") ? nodes : null;
    });
    expect(statuses.every((n: any) => n.attemptCount === 1)).toBe(true);
  }, 60_000);
});
