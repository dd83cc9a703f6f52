/**
 * The connection to MySQL is cut around a mutation's COMMIT by a TCP proxy in front of the real
 * server: after the server committed (its answer lost), or before COMMIT reached it (rolled
 * back). A change that appends an event, and createHook, read their outcome back and answer as if
 * nothing happened, with the change saved exactly once; other writes say COMMIT_OUTCOME_UNKNOWN;
 * a database that stays unreachable answers SERVICE_UNAVAILABLE over HTTP and closes graphql-ws
 * connections with 1013. MySQL only: SQLite has no connection to lose.
 */
import { createConnection } from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { freshDatabaseUrl } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { collect, disposeLiveClients, liveClient } from "../helpers/live.js";
import { createLogger } from "../../src/shared/logger.js";
import { startMysqlProxy, type CommitCut, type MysqlProxy } from "../helpers/mysql-proxy.js";

describe("a connection lost around COMMIT on mysql", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await disposeLiveClients();
    while (cleanups.length) await cleanups.pop()!();
  });

  /** An API-only app (no worker transactions to race the cut) whose every connection goes through a proxy. */
  async function setup(): Promise<{ t: TestApp; proxy: MysqlProxy; rows: <T>(sql: string, params?: unknown[]) => Promise<T[]>; logged: Array<Record<string, any>> }> {
    const fresh = await freshDatabaseUrl("mysql");
    cleanups.push(fresh.drop);
    const proxy = await startMysqlProxy(fresh.url);
    cleanups.push(() => proxy.close());
    const logged: Array<Record<string, any>> = [];
    const logger = createLogger("error", { write: (line: string) => void logged.push(JSON.parse(line)) });
    const t = await startTestApp("mysql", { databaseUrl: proxy.url, env: { HOOKCAST_ROLE: "api" }, overrides: { logger } });
    cleanups.push(() => t.stop());
    const direct = await createConnection({ uri: fresh.url });
    cleanups.push(() => direct.end());
    const rows = async <T>(sql: string, params: unknown[] = []) => (await direct.query(sql, params))[0] as T[];
    return { t, proxy, rows, logged };
  }

  const createContact = `mutation($email: String!) { createContact(input: { email: $email }) { id email } }`;

  for (const how of ["after-commit", "before-commit"] as CommitCut[]) {
    it(`answers a createContact normally when its connection is cut ${how}, with the contact and its event saved once`, async () => {
      const { t, proxy, rows } = await setup();
      const cut = proxy.cutCommit("INSERT INTO `contacts`", how);
      const answer = await t.gql(createContact, { email: "cut@example.com" });
      await cut; // the cut did happen on this mutation's COMMIT
      expect(answer.errors).toBeUndefined();
      const id = answer.data!.createContact.id as string;
      expect(await rows(`SELECT id FROM contacts WHERE email = ?`, ["cut@example.com"])).toEqual([{ id }]);
      // One event, with the first sequence: a rolled-back attempt left no gap.
      expect(await rows(`SELECT type, sequence, contact_id AS contactId FROM events`)).toEqual([{ type: "contact.created", sequence: 1, contactId: id }]);
      // The API goes on: the next change gets the next sequence.
      await t.ok(createContact, { email: "next@example.com" });
      expect(await rows(`SELECT sequence FROM events ORDER BY sequence`)).toEqual([{ sequence: 1 }, { sequence: 2 }]);
    });
  }

  it("answers a createHook normally when the answer to its COMMIT is lost, with one hook saved", async () => {
    const { t, proxy, rows } = await setup();
    const cut = proxy.cutCommit("INSERT INTO `hooks`", "after-commit");
    // Unverifiable URL (nothing listens on port 9 of loopback): the hook stays PENDING_VERIFICATION.
    const answer = await t.gql(`mutation { createHook(input: { url: "http://127.0.0.1:9/hook" }) { hook { id status } secret } }`);
    await cut;
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.createHook.hook.status).toBe("PENDING_VERIFICATION");
    expect(await rows(`SELECT id FROM hooks`)).toEqual([{ id: answer.data!.createHook.hook.id }]);
  });

  it("says COMMIT_OUTCOME_UNKNOWN, with a request id and no driver text, for a write it cannot read back", async () => {
    const { t, proxy, rows } = await setup();
    const hook = (await t.ok(`mutation { createHook(input: { url: "http://127.0.0.1:9/hook" }) { hook { id } } }`)).createHook.hook.id as string;
    const cut = proxy.cutCommit("UPDATE `hooks`", "after-commit");
    const answer = await t.gql(`mutation($id: ID!) { rotateHookSecret(id: $id) { secret } }`, { id: hook });
    await cut;
    const [error] = answer.errors!;
    expect(error.extensions).toEqual({ code: "COMMIT_OUTCOME_UNKNOWN", requestId: expect.any(String) });
    expect(error.message).toContain(`(reference ${error.extensions!.requestId})`);
    expect(error.message).not.toMatch(/COMMIT;|PROTOCOL|Connection lost|at /);
    // It did commit: the hook now has a previous secret in its grace period.
    const [row] = await rows<{ previous: string | null }>(`SELECT previous_secret AS previous FROM hooks WHERE id = ?`, [hook]);
    expect(row.previous).toMatch(/^whsec_/);
  });

  it("answers 503 SERVICE_UNAVAILABLE with Retry-After while the key cannot be checked, and recovers", async () => {
    const { t, proxy, rows, logged } = await setup();
    proxy.setDown(true);
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.apiKey}` },
      body: JSON.stringify({ query: createContact, variables: { email: "down@example.com" } }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = await res.json();
    const requestId = res.headers.get("x-request-id");
    expect(body.errors[0].extensions).toEqual({ code: "SERVICE_UNAVAILABLE", requestId });
    expect(JSON.stringify(body)).not.toMatch(/ECONN|PROTOCOL|SELECT|INSERT|Connection lost/);
    // The cause is in the log, under the same request id.
    expect(logged.some((l) => l.requestId === requestId && l.err?.message)).toBe(true);
    proxy.setDown(false);
    await t.ok(createContact, { email: "up@example.com" });
    expect(await rows(`SELECT email FROM contacts`)).toEqual([{ email: "up@example.com" }]);
  });

  it("answers the public subscribe form with 503 and Retry-After while the database is unreachable", async () => {
    const { t, proxy, rows } = await setup();
    const { publicToken } = (await t.ok(`mutation { createList(input: { name: "News" }) { publicToken } }`)).createList;
    proxy.setDown(true);
    const res = await fetch(`${t.url}/f/${publicToken}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "form@example.com" }) });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await res.json()).errors[0].extensions.code).toBe("SERVICE_UNAVAILABLE");
    proxy.setDown(false);
    const again = await fetch(`${t.url}/f/${publicToken}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "form@example.com" }) });
    expect(again.status).toBe(200);
    expect(await rows(`SELECT email FROM contacts`)).toEqual([{ email: "form@example.com" }]);
  });

  it("says SERVICE_UNAVAILABLE, with nothing written, when the database goes away in the middle of a change", async () => {
    const { t, proxy, rows } = await setup();
    proxy.downAt("INSERT INTO `contacts`");
    const answer = await t.gql(createContact, { email: "midway@example.com" });
    expect(answer.errors?.[0].extensions).toEqual({ code: "SERVICE_UNAVAILABLE", requestId: expect.any(String) });
    expect(answer.errors?.[0].message).toContain(`(reference ${answer.errors?.[0].extensions?.requestId})`);
    proxy.setDown(false);
    expect(await rows(`SELECT COUNT(*) AS n FROM contacts`)).toEqual([{ n: 0 }]);
    expect(await rows(`SELECT COUNT(*) AS n FROM events`)).toEqual([{ n: 0 }]);
  });

  it("closes a graphql-ws connection with 1013 while the key cannot be checked; the client's retry then subscribes", async () => {
    const { t, proxy } = await setup();
    proxy.setDown(true);
    const live = liveClient(t.url, t.apiKey, { retryAttempts: 200 });
    const stream = collect(live, `subscription { events { type } }`);
    await waitFor(() => live.closes.length > 0, { message: "first connection closed" });
    expect(live.closes[0]).toEqual({ code: 1013, reason: "Service unavailable: retry later" });
    proxy.setDown(false);
    // The client retries by itself (1013 is not fatal to graphql-ws) and its subscription goes live.
    await waitFor(async () => {
      await t.ok(createContact, { email: `live${Date.now()}@example.com` });
      return stream.items.length > 0;
    }, { message: "subscription live after the retry" });
    expect(stream.items[0]).toEqual({ type: "contact.created" });
    expect(stream.errors).toEqual([]);
  });
});
