import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb, type Db, type Driver } from "../../src/db/index.js";
import { EventEntity } from "../../src/events/event.entity.js";
import { newId } from "../../src/shared/ids.js";
import { createMysqlDatabase } from "./mysql.js";

/** Both storage drivers: every integration and e2e suite runs once per driver. */
export const DRIVERS: Driver[] = ["sqlite", "mysql"];

/** A fresh, empty database URL for `driver`, and its clean-up. */
export async function freshDatabaseUrl(driver: Driver): Promise<{ url: string; drop: () => Promise<void> }> {
  if (driver === "mysql") return createMysqlDatabase();
  const dir = mkdtempSync(join(tmpdir(), "hookcast-test-"));
  return { url: `sqlite:${join(dir, "test.sqlite")}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A migrated Db on a fresh database; `close` also drops it. */
export async function openTestDb(driver: Driver): Promise<{ db: Db; url: string; close: () => Promise<void> }> {
  const fresh = await freshDatabaseUrl(driver);
  const db = await openDb(fresh.url);
  return {
    db,
    url: fresh.url,
    close: async () => {
      await db.close();
      await fresh.drop();
    },
  };
}

/**
 * Plants an event at `sequence` of the account's log without moving its counter, so that the
 * next append collides (a failure forced between a change and its event). Returns the clean-up.
 */
export async function occupySequence(db: Db, accountId: string, sequence: number): Promise<() => Promise<void>> {
  const id = newId("evt");
  const row = { id, accountId, sequence, type: "contact.created", source: "system", occurredAt: new Date(), data: {}, contactId: null, listId: null, tag: null, actorKeyId: null, fanoutPending: false };
  await db.write((m) => m.insert(EventEntity, row as never));
  return async () => void (await db.write((m) => m.delete(EventEntity, { id })));
}
