import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { DeliveryEntity } from "../../src/delivery/index.js";
import { startHookcast } from "../../src/server/app.js";
import { silentLogger } from "../../src/shared/logger.js";
import { startTestApp, waitFor } from "../helpers/app.js";
import { startReceiver } from "../helpers/receiver.js";

// Fan-out is off the request path: an API-only process commits the change and its event and
// answers; deliveries are made by whichever worker runs, later. No timing involved: with no
// worker running, the mutation still completes and no delivery exists.
describe("roles: api and worker processes on one MySQL", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it("an api-only process writes events without delivering; a worker process delivers them", async () => {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const api = await startTestApp("mysql", { env: { HOOKCAST_ROLE: "api" } });
    cleanups.push(() => api.stop());
    const created = await api.ok(`mutation($url: String!) { createHook(input: { url: $url }) { hook { id status verificationError } } }`, { url: `${r.url}/h` });
    expect(created.createHook.hook).toMatchObject({ status: "ACTIVE", verificationError: null });
    for (const email of ["a@example.com", "b@example.com", "c@example.com"]) {
      await api.ok(`mutation($email: String!) { createContact(input: { email: $email }) { id } }`, { email });
    }
    const events = await api.ok(`{ events { edges { node { sequence } } } }`);
    expect(events.events.edges).toHaveLength(3);
    expect(await api.app.deps.db.read((m) => m.count(DeliveryEntity))).toBe(0);
    expect(r.webhooks).toHaveLength(0);
    // A delivery queued but not yet sent says when it is due.
    const ping = await api.ok(`mutation($id: ID!) { pingHook(id: $id) { status nextAttemptAt createdAt } }`, { id: created.createHook.hook.id });
    expect(ping.pingHook.status).toBe("PENDING");
    expect(ping.pingHook.nextAttemptAt).toBe(ping.pingHook.createdAt);

    const worker = await startHookcast(
      loadConfig({ DATABASE_URL: api.databaseUrl, HOOKCAST_ROLE: "worker", HOOKCAST_ALLOW_PRIVATE_TARGETS: "true", LOG_LEVEL: "silent" }),
      { logger: silentLogger, worker: { pollIntervalMs: 20 } },
    );
    cleanups.push(() => worker.stop());
    expect(worker.url).toBeNull();
    await waitFor(() => r.webhooks.length === 4);
    expect(r.webhooks.map((w) => w.json.sequence).sort()).toEqual([1, 2, 3, 4]);
    await waitFor(async () => (await api.app.deps.db.read((m) => m.count(DeliveryEntity, { where: { status: "DELIVERED" } }))) === 4);
  });
});
