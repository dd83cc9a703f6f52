/**
 * MySQL connections killed on the server (a failover, `KILL`, an idle timeout): a transaction
 * whose connection died before COMMIT ran nowhere, so `db.write` runs it again on a fresh
 * connection; reads are retried too. MySQL only: SQLite has no connections to lose.
 */
import { createConnection } from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { lockedRowExists } from "../../src/db/index.js";
import { openTestDb } from "../helpers/db.js";

describe("connections lost on mysql", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  async function kill(url: string, threadIds: number[]): Promise<void> {
    const admin = await createConnection({ uri: url });
    try {
      for (const id of threadIds) await admin.query(`KILL ${Number(id)}`);
    } finally {
      await admin.end();
    }
  }

  it("runs a transaction again when its connection is killed before COMMIT, and commits it once", async () => {
    const t = await openTestDb("mysql");
    close = t.close;
    await t.db.write((m) => m.query("CREATE TABLE scratch (id INT PRIMARY KEY, attempt INT NOT NULL)"));
    let attempts = 0;
    await t.db.write(async (m) => {
      attempts++;
      await m.query("INSERT INTO scratch (id, attempt) VALUES (1, ?)", [attempts]);
      if (attempts === 1) {
        const [{ id }] = (await m.query("SELECT CONNECTION_ID() AS id")) as Array<{ id: number }>;
        await kill(t.url, [id]);
      }
      await m.query("UPDATE scratch SET attempt = attempt WHERE id = 1");
    });
    expect(attempts).toBe(2);
    expect(await t.db.read((m) => m.query("SELECT id, attempt FROM scratch"))).toEqual([{ id: 1, attempt: 2 }]);
  });

  it("answers reads and writes after every pooled connection was killed while idle", async () => {
    const t = await openTestDb("mysql");
    close = t.close;
    // Several pooled connections, all idle afterwards.
    await Promise.all(Array.from({ length: 4 }, () => t.db.write((m) => m.query("SELECT SLEEP(0.05)"))));
    const admin = await createConnection({ uri: t.url });
    const [rows] = await admin.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()");
    await admin.end();
    const ids = (rows as Array<{ id: number }>).map((r) => r.id);
    expect(ids.length).toBeGreaterThan(0);
    await kill(t.url, ids);

    expect(await t.db.read((m) => m.query("SELECT 1 AS one"))).toEqual([{ one: 1 }]);
    expect(await t.db.write((m) => m.query("SELECT 2 AS two"))).toEqual([{ two: 2 }]);
  });

  it("reads a commit's outcome back with a bounded lock wait, and leaves the session's timeout as it was", async () => {
    const t = await openTestDb("mysql");
    close = t.close;
    // Another connection inserts a row and keeps its transaction open, as a transaction the
    // server has not finished (its client cut off) would.
    const holder = await createConnection({ uri: t.url });
    try {
      await holder.query("START TRANSACTION");
      await holder.query("INSERT INTO events (id, account_id, sequence, type, source, occurred_at, data, fanout_pending) VALUES ('evt_open', 'acc_x', 1, 'contact.created', 'api', NOW(3), '{}', 0)");
      const waited = t.db.write((m) => lockedRowExists(m, "events", "evt_open", 1));
      await expect(waited).rejects.toMatchObject({ driverError: { code: "ER_LOCK_WAIT_TIMEOUT" } });
      // Once that transaction ends, the read-back answers: rolled back, then committed.
      await holder.query("ROLLBACK");
      expect(await t.db.write((m) => lockedRowExists(m, "events", "evt_open", 1))).toBe(false);
      await holder.query("INSERT INTO events (id, account_id, sequence, type, source, occurred_at, data, fanout_pending) VALUES ('evt_open', 'acc_x', 1, 'contact.created', 'api', NOW(3), '{}', 0)");
      expect(await t.db.write((m) => lockedRowExists(m, "events", "evt_open", 1))).toBe(true);
      const [[{ global }]] = (await holder.query("SELECT @@GLOBAL.innodb_lock_wait_timeout AS global")) as unknown as [[{ global: number }]];
      const session = await t.db.write(async (m) => {
        await lockedRowExists(m, "events", "evt_open", 1);
        return ((await m.query("SELECT @@SESSION.innodb_lock_wait_timeout AS s")) as Array<{ s: number }>)[0].s;
      });
      expect(Number(session)).toBe(Number(global));
      expect(Number(global)).not.toBe(1);
    } finally {
      await holder.end();
    }
  }, 20_000);
});
