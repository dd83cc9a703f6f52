import type { EntityManager } from "typeorm";
import { insertRows, lockedRowExists, type Db } from "../db/index.js";
import { AccountEntity } from "../accounts/account.entity.js";
import type { Clock } from "../shared/clock.js";
import { newId } from "../shared/ids.js";
import { EventEntity, type EventSource } from "./event.entity.js";
import type { EventBus } from "./event-bus.js";
import type { EventType } from "./event-types.js";

/** An event to append; the log fills in id, sequence and time. */
export interface EventDraft {
  type: EventType;
  source: EventSource;
  /** The resource as the GraphQL API renders it; stored as its JSON form (dates become ISO strings). */
  data: unknown;
  contactId?: string | null;
  listId?: string | null;
  tag?: string | null;
  actorKeyId?: string | null;
  /** false for events that must not be fanned out to every matching hook (hook.ping targets one hook). Default true. */
  fanout?: boolean;
}

/** A change in progress: the transaction's manager, its "now", and the events it will append. */
export interface Change {
  readonly manager: EntityManager;
  /** One timestamp for the whole change: rows and events agree on it. */
  readonly now: Date;
  /** Queues an event; it is written with the change, or not at all. */
  append(draft: EventDraft): void;
}

/**
 * The event log (the outbox). {@link EventLog.change} runs a change and its events in one
 * transaction; after the commit it notifies the bus. Sequences are allocated last, by
 * incrementing the account's counter: its row lock is held until commit, so sequences are
 * gap-free and commit in order, and a reader paging by sequence never skips a late commit.
 */
export class EventLog {
  /**
   * @param onCommitted called after each commit with every event the transaction appended
   *   (including those appended by {@link appendEvents} on its manager), e.g. to count them.
   */
  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly onCommitted?: (events: EventEntity[]) => void,
  ) {}

  /**
   * Runs `fn` and appends the events it queued, atomically. If `fn` throws, nothing is written.
   * `fn` may be run again on a MySQL deadlock, so it must not have side effects outside the database.
   */
  async change<T>(accountId: string, fn: (change: Change) => Promise<T>): Promise<{ result: T; events: EventEntity[] }> {
    let latest: EntityManager | null = null;
    let outcome: { result: T; events: EventEntity[]; appended: EventEntity[] };
    try {
      outcome = await this.db.write(
        async (manager) => {
          // SQLite reuses one manager for every (serialized) transaction: start each with a fresh list.
          if (latest) appendedIn.delete(latest);
          latest = manager;
          const appended: EventEntity[] = [];
          appendedIn.set(manager, appended);
          const drafts: EventDraft[] = [];
          const change: Change = { manager, now: this.clock.now(), append: (d) => void drafts.push(d) };
          const result = await fn(change);
          const events = drafts.length ? await appendEvents(manager, accountId, drafts, change.now) : [];
          return { result, events, appended };
        },
        // COMMIT cut off (MySQL): the change committed if its first event exists.
        { committed: (manager, { appended }) => eventsCommitted(manager, appended) },
      );
    } finally {
      if (latest) appendedIn.delete(latest);
    }
    const { result, events, appended } = outcome;
    if (events.length) {
      this.bus.publish({
        accountId,
        lastSequence: events[events.length - 1].sequence,
        eventIds: events.map((e) => e.id),
      });
    }
    if (appended.length) this.onCommitted?.(appended);
    return { result, events };
  }
}

/**
 * Whether a change whose COMMIT was cut off committed: its first event (of all it appended,
 * through {@link appendEvents} on its manager too) exists. A locking read,
 * so that a transaction the server is still committing or rolling back is waited for, not missed.
 * A change that appended no event changed nothing (every change appends its event), so either
 * outcome is the same.
 */
async function eventsCommitted(manager: EntityManager, events: readonly EventEntity[]): Promise<boolean> {
  return events.length === 0 || lockedRowExists(manager, "events", events[0].id);
}

/**
 * Appends `drafts` to the account's log inside the caller's transaction, with consecutive
 * sequences. Exported for parts that already hold a transaction (fan-out of hook events).
 */
// Events appended per transaction manager while a change runs, so that the change can report all
// of them after its commit (appendEvents is also called directly on a change's manager, e.g. by
// pingHook). Only changes open an entry; other callers report their own events.
const appendedIn = new WeakMap<EntityManager, EventEntity[]>();

export async function appendEvents(manager: EntityManager, accountId: string, drafts: EventDraft[], now: Date): Promise<EventEntity[]> {
  // The account's row lock is held from this UPDATE to the commit, and every change of the
  // account waits for it: on MySQL the new counter comes back in the UPDATE's own answer
  // (LAST_INSERT_ID(expr)), which saves a round trip inside the lock (see the bench, case 4).
  let eventSeq: number;
  if (manager.connection.options.type !== "better-sqlite3") {
    const header = (await manager.query("UPDATE accounts SET event_seq = LAST_INSERT_ID(event_seq + ?) WHERE id = ?", [drafts.length, accountId])) as {
      affectedRows: number;
      insertId: number | string;
    };
    if (header.affectedRows !== 1) throw new Error(`account ${accountId} vanished during a change`);
    eventSeq = Number(header.insertId);
  } else {
    await manager
      .createQueryBuilder()
      .update(AccountEntity)
      .set({ eventSeq: () => `event_seq + ${drafts.length}` })
      .where("id = :accountId", { accountId })
      .execute();
    const account = await manager.findOne(AccountEntity, { where: { id: accountId }, select: { id: true, eventSeq: true } });
    if (!account) throw new Error(`account ${accountId} vanished during a change`);
    eventSeq = account.eventSeq;
  }
  const first = eventSeq - drafts.length + 1;
  const events = drafts.map((d, i) => {
    const e = new EventEntity();
    e.id = newId("evt", now.getTime());
    e.accountId = accountId;
    e.sequence = first + i;
    e.type = d.type;
    e.source = d.source;
    e.occurredAt = now;
    // The JSON form, also in memory, so that the returned event equals the stored one.
    e.data = JSON.parse(JSON.stringify(d.data));
    e.contactId = d.contactId ?? null;
    e.listId = d.listId ?? null;
    e.tag = d.tag ?? null;
    e.actorKeyId = d.actorKeyId ?? null;
    e.fanoutPending = d.fanout !== false;
    return e;
  });
  // Straight SQL with driver-prepared values: TypeORM's insert builder costs more CPU than the statement.
  await insertRows(manager, EventEntity, events);
  appendedIn.get(manager)?.push(...events);
  return events;
}
