import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountEntity } from "../../src/accounts/account.entity.js";
import { createAccount } from "../../src/accounts/account.service.js";
import { ContactEntity } from "../../src/contacts/contact.entity.js";
import type { Db } from "../../src/db/index.js";
import { MemoryEventBus, type EventNotice } from "../../src/events/event-bus.js";
import { EventLog, appendEvents, type Change, type EventDraft } from "../../src/events/event-log.js";
import { EventEntity } from "../../src/events/event.entity.js";
import { systemClock } from "../../src/shared/clock.js";
import { newId } from "../../src/shared/ids.js";
import { DRIVERS, occupySequence, openTestDb } from "../helpers/db.js";

/**
 * The outbox invariant at its source: a change and its events commit together or not at all,
 * and a failed change takes no sequence number.
 */
describe.each(DRIVERS)("event log on %s", (driver) => {
  let db: Db;
  let close: () => Promise<void>;
  let bus: MemoryEventBus;
  let log: EventLog;
  let notices: EventNotice[];
  let accountId: string;

  beforeAll(async () => {
    ({ db, close } = await openTestDb(driver));
  });
  afterAll(() => close?.());
  beforeEach(async () => {
    bus = new MemoryEventBus();
    notices = [];
    bus.subscribe((n) => notices.push(n));
    log = new EventLog(db, bus, systemClock);
    accountId = (await createAccount(db, "rollback")).accountId;
  });
  afterEach(() => bus.close());

  /** Inserts a contact in `change` and queues its contact.created event. */
  async function insertContact(change: Change, email: string): Promise<string> {
    const id = newId("con", change.now.getTime());
    await change.manager.insert(ContactEntity, {
      id,
      accountId,
      email,
      emailKey: email.toLowerCase(),
      firstName: null,
      lastName: null,
      phone: null,
      fields: {},
      bounceCount: 0,
      bouncedAt: null,
      createdAt: change.now,
      updatedAt: change.now,
    } as never);
    change.append({ type: "contact.created", source: "api", data: { id, email }, contactId: id });
    return id;
  }

  const draft = (email: string): EventDraft => ({ type: "contact.created", source: "api", data: { email } });
  const contacts = () => db.read((m) => m.find(ContactEntity, { where: { accountId }, order: { id: "ASC" } }));
  const events = () => db.read((m) => m.find(EventEntity, { where: { accountId }, order: { sequence: "ASC" } }));
  const eventSeq = async () => (await db.read((m) => m.findOneOrFail(AccountEntity, { where: { id: accountId } }))).eventSeq;

  it("commits a change with its event, numbers it 1, and notifies the bus after the commit", async () => {
    let visibleAtNotice: number | undefined;
    bus.subscribe(() => {
      // The notice is a hint sent after commit: a reader on another connection already sees the rows.
      void events().then((e) => (visibleAtNotice = e.length));
    });
    const { result: id, events: appended } = await log.change(accountId, (change) => insertContact(change, "ok@example.com"));
    expect((await contacts()).map((c) => c.id)).toEqual([id]);
    const stored = await events();
    expect(stored.map((e) => [e.sequence, e.type, e.contactId, e.source])).toEqual([[1, "contact.created", id, "api"]]);
    expect(stored[0].data).toEqual({ id, email: "ok@example.com" });
    expect(appended.map((e) => e.id)).toEqual(stored.map((e) => e.id));
    expect(notices).toEqual([{ accountId, lastSequence: 1, eventIds: [stored[0].id] }]);
    expect(await eventSeq()).toBe(1);
    await expect.poll(() => visibleAtNotice).toBe(1);
  });

  it("writes neither the contact nor the event when the change throws after inserting and appending", async () => {
    await log.change(accountId, (change) => insertContact(change, "before@example.com"));
    const before = { contacts: await contacts(), events: await events(), notices: notices.length };
    await expect(
      log.change(accountId, async (change) => {
        await insertContact(change, "doomed@example.com");
        throw new Error("boom between the change and its commit");
      }),
    ).rejects.toThrow("boom between");
    expect(await contacts()).toEqual(before.contacts);
    expect(await events()).toEqual(before.events);
    expect(await eventSeq()).toBe(1);
    expect(notices).toHaveLength(before.notices);
    // The next change gets the next gap-free number.
    await log.change(accountId, (change) => insertContact(change, "after@example.com"));
    expect((await events()).map((e) => e.sequence)).toEqual([1, 2]);
  });

  it("rolls back a change whose event was already written when the transaction then fails", async () => {
    await expect(
      db.write(async (m) => {
        const now = new Date();
        await m.insert(ContactEntity, {
          id: newId("con"),
          accountId,
          email: "half@example.com",
          emailKey: "half@example.com",
          fields: {},
          bounceCount: 0,
          createdAt: now,
          updatedAt: now,
        } as never);
        const appended = await appendEvents(m, accountId, [draft("half@example.com")], now);
        expect(appended[0].sequence).toBe(1);
        // Inside the transaction both rows exist...
        expect(await m.count(EventEntity, { where: { accountId } })).toBe(1);
        throw new Error("crash after the event insert");
      }),
    ).rejects.toThrow("crash after the event insert");
    // ...and after the rollback neither does, and the sequence did not move.
    expect(await contacts()).toEqual([]);
    expect(await events()).toEqual([]);
    expect(await eventSeq()).toBe(0);
    const { events: next } = await log.change(accountId, (change) => insertContact(change, "next@example.com"));
    expect(next.map((e) => e.sequence)).toEqual([1]);
  });

  it("rolls back the contact when the event insert itself fails, and the sequence does not advance", async () => {
    await log.change(accountId, (change) => insertContact(change, "one@example.com"));
    // Plant a row that takes sequence 2 without moving the counter: the next append collides.
    const release = await occupySequence(db, accountId, 2);
    const contactsBefore = await contacts();
    await expect(log.change(accountId, (change) => insertContact(change, "two@example.com"))).rejects.toThrow();
    expect(await contacts()).toEqual(contactsBefore);
    expect((await contacts()).some((c) => c.email === "two@example.com")).toBe(false);
    expect(await eventSeq()).toBe(1);
    expect(notices).toHaveLength(1);
    await release();
    const { events: retried } = await log.change(accountId, (change) => insertContact(change, "two@example.com"));
    expect(retried.map((e) => e.sequence)).toEqual([2]);
    expect((await events()).map((e) => e.sequence)).toEqual([1, 2]);
  });

  it("gives the events of one change consecutive sequences, and nothing for a change that appends none", async () => {
    const { events: none } = await log.change(accountId, async () => "no events");
    expect(none).toEqual([]);
    expect(notices).toEqual([]);
    const { events: three } = await log.change(accountId, async (change) => {
      for (const e of ["a", "b", "c"]) change.append(draft(`${e}@example.com`));
    });
    expect(three.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(notices).toEqual([{ accountId, lastSequence: 3, eventIds: three.map((e) => e.id) }]);
  });

  it("keeps sequences gap-free and per account under 40 concurrent changes across two accounts", async () => {
    const other = (await createAccount(db, "other")).accountId;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        log.change(i % 4 === 0 ? other : accountId, async (change) => {
          if (i % 10 === 9) throw new Error("some changes fail");
          change.append(draft(`${i}@example.com`));
        }),
      ),
    );
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(4);
    const mine = await events();
    const theirs = await db.read((m) => m.find(EventEntity, { where: { accountId: other }, order: { sequence: "ASC" } }));
    expect(mine.map((e) => e.sequence)).toEqual(Array.from({ length: mine.length }, (_, i) => i + 1));
    expect(theirs.map((e) => e.sequence)).toEqual(Array.from({ length: theirs.length }, (_, i) => i + 1));
    expect(mine.length + theirs.length).toBe(36);
    expect(await eventSeq()).toBe(mine.length);
  });
});
