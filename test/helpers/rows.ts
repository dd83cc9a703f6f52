import type { Db } from "../../src/db/index.js";
import { EventEntity } from "../../src/events/event.entity.js";
import { HookEntity } from "../../src/hooks/hook.entity.js";

/** When fixture rows were made. */
export const FIXTURE_TIME = new Date("2026-05-01T00:00:00.000Z");

/**
 * Inserts an ACTIVE hook row of account acc_1 straight into the database (suites that test the
 * delivery tables below the API); `patch` overrides any column.
 */
export async function insertHookRow(db: Db, patch: Partial<HookEntity> & { id: string }): Promise<void> {
  const hook = Object.assign(new HookEntity(), {
    accountId: "acc_1",
    name: null,
    url: "http://127.0.0.1:9/x",
    events: ["*"],
    sources: ["api"],
    listId: null,
    status: "ACTIVE",
    signingSecret: "whsec_x",
    previousSecret: null,
    previousSecretExpiresAt: null,
    verificationError: null,
    verifiedAt: FIXTURE_TIME,
    activeSince: FIXTURE_TIME,
    createdByKeyId: null,
    lastDeliveredAt: null,
    lastFailureAt: null,
    lastError: null,
    consecutiveFailures: 0,
    failingSince: null,
    disabledReason: null,
    createdAt: FIXTURE_TIME,
    updatedAt: FIXTURE_TIME,
    deletedAt: null,
    deletedReason: null,
    ordering: "NONE",
    batchMaxSize: null,
    batchMaxWaitMs: null,
    ...patch,
  });
  await db.write((m) => m.insert(HookEntity, hook as never));
}

/**
 * Appends one `contact.updated` event per entry of `contacts` (its contact id), in order, to
 * account acc_1's log from sequence `from` (ids `evt_000001`…), straight into the database;
 * returns them.
 */
export async function insertEventRows(db: Db, contacts: string[], options: { from?: number; fanoutPending?: boolean } = {}): Promise<EventEntity[]> {
  const from = options.from ?? 1;
  const rows = contacts.map((contactId, i) =>
    Object.assign(new EventEntity(), {
      id: `evt_${String(from + i).padStart(6, "0")}`,
      accountId: "acc_1",
      sequence: from + i,
      type: "contact.updated",
      source: "api",
      occurredAt: FIXTURE_TIME,
      data: { id: contactId },
      contactId,
      listId: null,
      tag: null,
      actorKeyId: null,
      fanoutPending: options.fanoutPending ?? false,
    }),
  );
  await db.write((m) => m.insert(EventEntity, rows as never[]));
  return rows;
}
