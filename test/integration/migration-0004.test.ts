import { afterEach, describe, expect, it } from "vitest";
import { DataSource } from "typeorm";
import { dataSourceOptions, openDb, type Db } from "../../src/db/index.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { ContactEntity } from "../../src/contacts/contact.entity.js";
import { ListEntity } from "../../src/contacts/list.entity.js";
import { ApiKeyEntity } from "../../src/accounts/api-key.entity.js";
import { DRIVERS, freshDatabaseUrl } from "../helpers/db.js";

describe.each(DRIVERS)("migration 0004 on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it("backfills a distinct random public token for every existing list and unsubscribe token for every contact", async () => {
    const fresh = await freshDatabaseUrl(driver);
    cleanups.push(fresh.drop);
    // The database as the previous release left it: migrations 0001-0003, with rows.
    const old = new DataSource({ ...dataSourceOptions(fresh.url), migrations: MIGRATIONS[driver].slice(0, 3) } as never);
    await old.initialize();
    await old.runMigrations({ transaction: "each" });
    const at = "2026-01-02 03:04:05.678";
    await old.query(`INSERT INTO accounts (id, name, event_seq, created_at) VALUES ('acc_1', 'a', 0, '${at}')`);
    await old.query(`INSERT INTO api_keys (id, account_id, key_hash, key_prefix, created_at) VALUES ('key_1', 'acc_1', '${"0".repeat(64)}', 'hc_x', '${at}')`);
    for (const i of [1, 2, 3]) {
      await old.query(`INSERT INTO lists (id, account_id, name, created_at) VALUES ('lst_${i}', 'acc_1', 'list ${i}', '${at}')`);
      await old.query(
        `INSERT INTO contacts (id, account_id, email, email_key, fields, bounce_count, created_at, updated_at) VALUES ('con_${i}', 'acc_1', 'c${i}@example.com', 'c${i}@example.com', '{}', 0, '${at}', '${at}')`,
      );
    }
    await old.destroy();

    const db: Db = await openDb(fresh.url);
    cleanups.push(() => db.close());
    const lists = await db.read((m) => m.find(ListEntity, { order: { id: "ASC" } }));
    const contacts = await db.read((m) => m.find(ContactEntity, { order: { id: "ASC" } }));
    const tokens = [...lists.map((l) => l.publicToken), ...contacts.map((c) => c.unsubscribeToken)];
    expect(tokens).toHaveLength(6);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(new Set(tokens).size).toBe(6);
    const [key] = await db.read((m) => m.find(ApiKeyEntity));
    expect(key.source).toBe("api");
  });
});
