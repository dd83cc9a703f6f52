import { In } from "typeorm";
import type { Db } from "../db/index.js";
import type { EventBus } from "../events/event-bus.js";
import { EventEntity } from "../events/event.entity.js";
import { HookEntity } from "../hooks/hook.entity.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { Metrics } from "../shared/metrics.js";
import { claimDue } from "./claim.js";
import { claimBatches, type ClaimedBatch } from "./claim-batch.js";
import type { DeliveryEntity } from "./delivery.entity.js";
import { batchBody, payloadContext, payloadKey, webhookBody, type PayloadContext } from "./payload.js";
import type { HttpClient } from "./http-client.js";
import { observeOutcomes } from "./observe-outcomes.js";
import { deliveryStates, recordOutcomes, type Outcome } from "./record-outcomes.js";
import { decide } from "./retry-policy.js";
import { activeSecrets, signedHeaders } from "./sign.js";


/**
 * Outcome batches written at once: while one commits, the next one's statements run (they touch
 * different delivery rows; a shared hook row makes the second wait only for the first's commit).
 */
const OUTCOME_WRITERS = 2;

/** A claimed delivery (or batch) loaded and waiting for an in-flight slot. */
interface ReadySend {
  hookId: string;
  /** When it was claimed (epoch ms). */
  claimedAt: number;
  send: () => Promise<void>;
  /** Releases the row(s) unsent. */
  giveBack: () => void;
}

/** Options of the dispatcher; defaults in brackets. */
export interface DispatcherOptions {
  /** Deliveries in flight in this process [64]. */
  concurrency: number;
  /** Deliveries in flight per hook in this process [16]: one slow receiver cannot take every slot. */
  perHookInFlight: number;
  /** Delays between attempts (ms); its length is the number of retries. */
  retryScheduleMs: readonly number[];
  /** A hook failing this long is disabled [5 days]. */
  disableAfterMs: number;
  /** Lease on claimed rows; must exceed the request timeout [60 s]. */
  leaseMs?: number;
  /** Poll period when idle, ms [250]. Notifications wake it sooner. */
  pollIntervalMs?: number;
  /** On stop, how long in-flight requests may finish before being aborted and released, ms [7 s]. */
  drainMs?: number;
  /** Base URL of the API, for skinny payloads' `fetch.url` [http://localhost:4000]. */
  publicUrl?: string;
}

/** What the dispatcher uses. */
export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  http: HttpClient;
  logger: Logger;
  /** Where hook.deleted / hook.disabled events are announced after their commit. */
  bus: EventBus;
  /** Counts outcomes, attempt durations and appended events; optional. */
  metrics?: Metrics;
}

/**
 * The dispatcher: claims due deliveries with a lease, sends them outside any transaction, and
 * writes outcomes in batches while it still holds the lease (STYLE.md principle 3). The table is
 * the queue; this loop keeps nothing that a crash could lose. Claiming runs ahead of sending:
 * while one claim's rows are loaded the next claim runs, and up to `concurrency` claimed rows wait
 * for a slot (never sent late in their lease; a crash only delays them to its expiry). Each round claims single
 * deliveries (ordered ones only as the head of their key, see `claim.ts`) and then whole batches
 * of batched hooks (`claim-batch.ts`); a batch is one request and takes one in-flight slot.
 */
export class Dispatcher {
  private inFlight = 0;
  /**
   * Requests (single deliveries or whole batches) whose response is in but whose outcome is not
   * yet written: still leased, so sent again if this process dies. No send starts while
   * `inFlight + unwritten` is 2 × `concurrency`, so a killed worker repeats at most that many
   * requests.
   */
  private unwritten = 0;
  private readonly perHook = new Map<string, number>();
  private stopping = false;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private outcomes: Array<{ outcome: Outcome; written: () => void }> = [];
  /** Outcome batches being written (at most {@link OUTCOME_WRITERS}), and whether one is about to start. */
  private readonly flushes = new Set<Promise<void>>();
  private flushScheduled = false;
  private readonly sends = new Set<Promise<void>>();
  /** Claims being loaded and sent (see `startDispatch`), and how many slots they hold, in all and per hook. */
  private readonly dispatching = new Set<Promise<void>>();
  private claimed = 0;
  private readonly claimedByHook = new Map<string, number>();
  /**
   * Claimed, loaded and signed-to-be rows waiting for a slot, oldest first. The loop claims up to
   * `concurrency` rows ahead, so a freed slot is refilled at once instead of after a claim round
   * trip. A waiting row was never sent: a crash only delays it to its lease's expiry. A row that
   * waited longer than `readyMaxWaitMs` is given back rather than sent late in its lease.
   */
  private ready: ReadySend[] = [];
  private readonly readyMaxWaitMs: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  /** When the claim loop last ran (epoch ms), for readiness; null before it starts. */
  lastTickAt: number | null = null;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.readyMaxWaitMs = Math.min(1_000, this.leaseMs / 20);
  }

  /** Starts the claim loop. */
  start(): this {
    this.loopDone ??= this.loop();
    return this;
  }

  /** Ends an idle wait early (new work was queued). */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }

  /**
   * Stops claiming, lets in-flight requests finish for up to `drainMs`, aborts the rest and gives
   * their rows back, then writes every outcome. Resolves when nothing is left in memory.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.loopDone ?? undefined;
    this.stopping = true;
    this.wake();
    await this.loopDone;
    // Claims still loading give their rows back (stopping) or start their sends: wait for them first.
    await Promise.all([...this.dispatching]);
    this.pump();
    const drained = Promise.all([...this.sends]);
    const timer = new Promise<void>((resolve) => setTimeout(resolve, this.options.drainMs ?? 7_000).unref());
    await Promise.race([drained, timer]);
    this.abort.abort();
    await drained;
    await this.flushAll();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.lastTickAt = Date.now();
      // Up to `concurrency` rows beyond the free slots are claimed ahead (see `ready`).
      const free = 2 * this.options.concurrency - this.inFlight - this.claimed - this.ready.length;
      if (free <= 0) {
        await this.idle(this.pollIntervalMs);
        continue;
      }
      const waiting = new Map(this.claimedByHook);
      for (const r of this.ready) waiting.set(r.hookId, (waiting.get(r.hookId) ?? 0) + 1);
      const saturated = [...new Set([...this.perHook.keys(), ...waiting.keys()])].filter(
        (id) => (this.perHook.get(id) ?? 0) + (waiting.get(id) ?? 0) >= 2 * this.options.perHookInFlight,
      );
      try {
        const now = this.deps.clock.now();
        const claim = await claimDue(this.deps.db, { limit: Math.min(free, 256), now, leaseMs: this.leaseMs, skipHooks: saturated });
        // A batch takes one slot, whatever its size.
        const slots = Math.min(free - claim.rows.length, 16);
        const batched = slots > 0 ? await claimBatches(this.deps.db, { limit: slots, now, leaseMs: this.leaseMs, skipHooks: saturated }) : { leaseId: "", batches: [] };
        if (claim.rows.length === 0 && batched.batches.length === 0) {
          await this.idle(this.pollIntervalMs);
          continue;
        }
        this.startDispatch(claim.leaseId, claim.rows, batched.leaseId, batched.batches);
      } catch (error) {
        if (this.stopping) break;
        this.deps.logger.error({ err: error }, "claiming deliveries failed; retrying");
        await this.idle(Math.max(this.pollIntervalMs, 1_000));
      }
    }
  }

  /**
   * Loads and sends what a claim returned while the loop goes on to the next claim, so claiming
   * overlaps loading. Until they are sent (or given back), the claimed rows count against the
   * free slots and their hooks' caps, so the next claim takes only what can be sent.
   */
  private startDispatch(leaseId: string, rows: DeliveryEntity[], batchLeaseId: string, batches: ClaimedBatch[]): void {
    const held = new Map<string, number>();
    for (const hookId of [...rows.map((r) => r.hookId), ...batches.map((b) => b.hookId)]) held.set(hookId, (held.get(hookId) ?? 0) + 1);
    const count = rows.length + batches.length;
    const claimedAt = Date.now();
    this.claimed += count;
    for (const [hookId, n] of held) this.claimedByHook.set(hookId, (this.claimedByHook.get(hookId) ?? 0) + n);
    const work: Promise<void> = (async () => {
      try {
        if (rows.length) await this.dispatch(leaseId, rows, claimedAt);
        if (batches.length) await this.dispatchBatches(batchLeaseId, batches, claimedAt);
      } catch (error) {
        // The rows keep their lease and become due again when it expires: delayed, not lost.
        this.deps.logger.error({ err: error }, "loading claimed deliveries failed");
      }
    })().finally(() => {
      this.claimed -= count;
      for (const [hookId, n] of held) {
        const left = (this.claimedByHook.get(hookId) ?? 0) - n;
        if (left <= 0) this.claimedByHook.delete(hookId);
        else this.claimedByHook.set(hookId, left);
      }
      this.dispatching.delete(work);
      this.pump();
      this.wake();
    });
    this.dispatching.add(work);
  }

  /** The hooks and events of claimed rows, by id, and the payload context to shape bodies with. */
  private async loadFor(rows: DeliveryEntity[]): Promise<{ hookById: Map<string, HookEntity>; eventById: Map<string, EventEntity>; shaping: PayloadContext }> {
    const [hooks, events] = await this.deps.db.read(async (m) =>
      Promise.all([
        m.find(HookEntity, { where: { id: In([...new Set(rows.map((r) => r.hookId))]) } }),
        m.find(EventEntity, { where: { id: In([...new Set(rows.map((r) => r.eventId))]) } }),
      ]),
    );
    return {
      hookById: new Map(hooks.map((h) => [h.id, h])),
      eventById: new Map(events.map((e) => [e.id, e])),
      shaping: await payloadContext(this.options.publicUrl ?? "http://localhost:4000"),
    };
  }

  /**
   * Runs one send in one of the hook's in-flight slots; the slot is freed when the response is in
   * (`run` resolves then) and the outcome's write is counted in {@link unwritten} instead.
   */
  private occupySlot(hookId: string, inFlight: number, run: () => Promise<void>): void {
    this.perHook.set(hookId, inFlight + 1);
    this.inFlight++;
    const send = run().finally(() => {
      this.sends.delete(send);
      this.inFlight--;
      const left = (this.perHook.get(hookId) ?? 1) - 1;
      if (left <= 0) this.perHook.delete(hookId);
      else this.perHook.set(hookId, left);
      this.pump();
      this.wake();
    });
    this.sends.add(send);
  }

  private async dispatch(leaseId: string, rows: DeliveryEntity[], claimedAt: number): Promise<void> {
    const { hookById, eventById, shaping } = await this.loadFor(rows);
    const bodies = new Map<string, string>();
    for (const row of rows) {
      const hook = hookById.get(row.hookId);
      const event = eventById.get(row.eventId);
      if (!hook || hook.deletedAt || !event) {
        void this.record({ kind: "cancel", row, leaseId });
        continue;
      }
      if (hook.status !== "ACTIVE") {
        void this.record({ kind: "park", row, leaseId });
        continue;
      }
      if (this.stopping) {
        void this.record({ kind: "release", row, leaseId });
        continue;
      }
      const bodyKey = `${event.id}\u0000${payloadKey(hook)}`;
      let body = bodies.get(bodyKey);
      if (body === undefined) bodies.set(bodyKey, (body = webhookBody(event, hook, shaping)));
      const sent = body;
      this.ready.push({ hookId: hook.id, claimedAt, send: () => this.send(row, leaseId, hook, sent), giveBack: () => void this.record({ kind: "release", row, leaseId }) });
    }
    this.pump();
  }

  /**
   * Starts waiting sends while slots are free, oldest first, skipping hooks at their in-flight
   * cap; gives back rows that waited too long, and every waiting row once stopping.
   */
  private pump(): void {
    if (this.ready.length === 0) return;
    const now = Date.now();
    const left: ReadySend[] = [];
    for (const r of this.ready) {
      if (this.stopping || now - r.claimedAt > this.readyMaxWaitMs) {
        r.giveBack();
        continue;
      }
      const inFlight = this.perHook.get(r.hookId) ?? 0;
      const atRisk = this.inFlight + this.unwritten;
      if (this.inFlight >= this.options.concurrency || atRisk >= 2 * this.options.concurrency || inFlight >= this.options.perHookInFlight) {
        left.push(r);
        continue;
      }
      this.occupySlot(r.hookId, inFlight, r.send);
    }
    this.ready = left;
  }

  /**
   * Sends claimed batches: one POST per batch, signed once with the batch id as `webhook-id`;
   * every member shares the attempt's outcome (an attempt row each, the same next attempt).
   */
  private async dispatchBatches(leaseId: string, batches: ClaimedBatch[], claimedAt: number): Promise<void> {
    const { hookById, eventById, shaping } = await this.loadFor(batches.flatMap((b) => b.rows));
    for (const batch of batches) {
      const hook = hookById.get(batch.hookId);
      const members = batch.rows.filter((r) => eventById.has(r.eventId));
      for (const r of batch.rows) if (!eventById.has(r.eventId)) void this.record({ kind: "cancel", row: r, leaseId });
      const all = (kind: "cancel" | "park" | "release") => {
        for (const row of members) void this.record({ kind, row, leaseId });
      };
      if (members.length === 0) continue;
      if (!hook || hook.deletedAt) {
        all("cancel");
        continue;
      }
      if (hook.status !== "ACTIVE") {
        all("park");
        continue;
      }
      if (this.stopping) {
        all("release");
        continue;
      }
      const body = batchBody(members.map((r) => webhookBody(eventById.get(r.eventId)!, hook, shaping)));
      this.ready.push({ hookId: hook.id, claimedAt, send: () => this.sendBatch(batch.id, members, leaseId, hook, body), giveBack: () => all("release") });
    }
    this.pump();
  }

  private async sendBatch(batchId: string, rows: DeliveryEntity[], leaseId: string, hook: HookEntity, body: string): Promise<void> {
    const startedAt = this.deps.clock.now();
    const headers = signedHeaders(activeSecrets(hook, startedAt), batchId, body, startedAt);
    const result = await this.deps.http.post(hook.url, headers, body, this.abort.signal);
    if (result.error === "aborted" && this.abort.signal.aborted) {
      await Promise.all(rows.map((row) => this.record({ kind: "release", row, leaseId })));
      return;
    }
    const retryAfter = result.headers["retry-after"];
    // The batch's schedule follows its freshest member (a redelivered member may have used up its own).
    const attemptNumber = Math.min(...rows.map((r) => r.attemptCount)) + 1;
    const decision = decide(
      { attemptNumber, statusCode: result.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter },
      this.options.retryScheduleMs,
      this.deps.clock.now(),
    );
    this.recordSent(Promise.all(rows.map((row) => this.record({ kind: "attempt", row, leaseId, startedAt, result, decision, batchId }))));
  }

  private async send(row: DeliveryEntity, leaseId: string, hook: HookEntity, body: string): Promise<void> {
    const startedAt = this.deps.clock.now();
    const headers = signedHeaders(activeSecrets(hook, startedAt), row.id, body, startedAt);
    const result = await this.deps.http.post(hook.url, headers, body, this.abort.signal);
    if (result.error === "aborted" && this.abort.signal.aborted) {
      await this.record({ kind: "release", row, leaseId });
      return;
    }
    const retryAfter = result.headers["retry-after"];
    const decision = decide(
      { attemptNumber: row.attemptCount + 1, statusCode: result.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter },
      this.options.retryScheduleMs,
      this.deps.clock.now(),
    );
    this.recordSent(this.record({ kind: "attempt", row, leaseId, startedAt, result, decision }));
  }

  /**
   * Frees the request's slot at once and counts the pending outcome write instead: the next
   * request need not wait for a commit (the slot cycle is the POST alone). A sent delivery whose
   * outcome is not yet recorded is still leased and is sent again if this process dies, so
   * {@link pump} starts no send while `inFlight + unwritten` reaches 2 × `concurrency`: that
   * many requests at most are ever at risk of a duplicate, however slow the writes.
   */
  private recordSent(written: Promise<unknown>): void {
    this.unwritten++;
    // Never rejects (a failed write resolves it too); stop()'s flushAll writes what is queued.
    void written.finally(() => {
      this.unwritten--;
      this.pump();
      this.wake();
    });
  }

  /**
   * Queues an outcome; outcomes are written in batches, one transaction each, up to
   * {@link OUTCOME_WRITERS} at once (a batch takes every outcome queued when it starts, so the
   * batches grow with the load). Resolves once its batch has been written (or has failed: the
   * row then keeps its lease until it expires).
   */
  private record(outcome: Outcome): Promise<void> {
    return new Promise<void>((written) => {
      this.outcomes.push({ outcome, written });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.outcomes.length === 0 || this.flushes.size >= OUTCOME_WRITERS) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.outcomes.length === 0 || this.flushes.size >= OUTCOME_WRITERS) return;
      const batch = this.outcomes;
      this.outcomes = [];
      const written: Promise<void> = this.writeOutcomes(batch).finally(() => {
        this.flushes.delete(written);
        this.scheduleFlush();
      });
      this.flushes.add(written);
    });
  }

  /** Writes every queued outcome and waits for the writes in progress. */
  private async flushAll(): Promise<void> {
    while (this.outcomes.length || this.flushes.size || this.flushScheduled) {
      this.scheduleFlush();
      await new Promise<void>((resolve) => setImmediate(resolve));
      await Promise.all([...this.flushes]);
    }
  }

  private async writeOutcomes(batch: Array<{ outcome: Outcome; written: () => void }>): Promise<void> {
    try {
      const now = this.deps.clock.now();
      const outcomes = batch.map((b) => b.outcome);
      const events = await recordOutcomes(this.deps.db, outcomes, now, this.options.disableAfterMs);
      this.announce(events);
      this.announceDeliveries(deliveryStates(outcomes, now));
      observeOutcomes(outcomes, this.deps.metrics, this.deps.logger);
      this.deps.metrics?.eventsCommitted(events);
    } catch (error) {
      // The rows keep their lease and become due again when it expires: delayed, not lost.
      this.deps.logger.error({ err: error, count: batch.length }, "recording delivery outcomes failed");
    } finally {
      for (const b of batch) b.written();
    }
  }

  /** Live `deliveryUpdates`: the committed states, by account (a hint; `deliveries` stays the truth). */
  private announceDeliveries(states: ReturnType<typeof deliveryStates>): void {
    if (!this.deps.bus.publishDeliveries || states.length === 0) return;
    const byAccount = new Map<string, typeof states>();
    for (const s of states) byAccount.set(s.accountId, [...(byAccount.get(s.accountId) ?? []), s]);
    for (const [accountId, deliveries] of byAccount) this.deps.bus.publishDeliveries({ accountId, deliveries });
  }

  private announce(events: EventEntity[]): void {
    const byAccount = new Map<string, EventEntity[]>();
    for (const e of events) byAccount.set(e.accountId, [...(byAccount.get(e.accountId) ?? []), e]);
    for (const [accountId, mine] of byAccount) {
      this.deps.bus.publish({ accountId, lastSequence: mine[mine.length - 1].sequence, eventIds: mine.map((e) => e.id) });
    }
  }
}
