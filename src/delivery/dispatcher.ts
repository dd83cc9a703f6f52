import { In } from "typeorm";
import type { Db } from "../db/index.js";
import type { EventBus } from "../events/event-bus.js";
import { EventEntity } from "../events/event.entity.js";
import { HookEntity } from "../hooks/hook.entity.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { claimDue } from "./claim.js";
import type { DeliveryEntity } from "./delivery.entity.js";
import { webhookBody } from "./envelope-body.js";
import type { HttpClient } from "./http-client.js";
import { deliveryStates, recordOutcomes, type Outcome } from "./record-outcomes.js";
import { decide } from "./retry-policy.js";
import { activeSecrets, signedHeaders } from "./sign.js";

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
}

/** What the dispatcher uses. */
export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  http: HttpClient;
  logger: Logger;
  /** Where hook.deleted / hook.disabled events are announced after their commit. */
  bus: EventBus;
}

/**
 * The dispatcher: claims due deliveries with a lease, sends them outside any transaction, and
 * writes outcomes in batches while it still holds the lease (STYLE.md principle 3). The table is
 * the queue; this loop keeps nothing that a crash could lose.
 */
export class Dispatcher {
  private inFlight = 0;
  private readonly perHook = new Map<string, number>();
  private stopping = false;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private outcomes: Array<{ outcome: Outcome; written: () => void }> = [];
  private flushing: Promise<void> | null = null;
  private readonly sends = new Set<Promise<void>>();
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
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
    const drained = Promise.all([...this.sends]);
    const timer = new Promise<void>((resolve) => setTimeout(resolve, this.options.drainMs ?? 7_000).unref());
    await Promise.race([drained, timer]);
    this.abort.abort();
    await drained;
    await this.flushing;
    await this.flush();
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
      const free = this.options.concurrency - this.inFlight;
      if (free <= 0) {
        await this.idle(this.pollIntervalMs);
        continue;
      }
      const saturated = [...this.perHook].filter(([, n]) => n >= this.options.perHookInFlight).map(([id]) => id);
      try {
        const claim = await claimDue(this.deps.db, { limit: Math.min(free, 256), now: this.deps.clock.now(), leaseMs: this.leaseMs, skipHooks: saturated });
        if (claim.rows.length === 0) {
          await this.idle(this.pollIntervalMs);
          continue;
        }
        await this.dispatch(claim.leaseId, claim.rows);
      } catch (error) {
        if (this.stopping) break;
        this.deps.logger.error({ err: error }, "claiming deliveries failed; retrying");
        await this.idle(Math.max(this.pollIntervalMs, 1_000));
      }
    }
  }

  private async dispatch(leaseId: string, rows: DeliveryEntity[]): Promise<void> {
    const [hooks, events] = await this.deps.db.read(async (m) =>
      Promise.all([
        m.find(HookEntity, { where: { id: In([...new Set(rows.map((r) => r.hookId))]) } }),
        m.find(EventEntity, { where: { id: In([...new Set(rows.map((r) => r.eventId))]) } }),
      ]),
    );
    const hookById = new Map(hooks.map((h) => [h.id, h]));
    const eventById = new Map(events.map((e) => [e.id, e]));
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
      const inFlight = this.perHook.get(hook.id) ?? 0;
      if (inFlight >= this.options.perHookInFlight || this.stopping) {
        void this.record({ kind: "release", row, leaseId });
        continue;
      }
      let body = bodies.get(event.id);
      if (body === undefined) bodies.set(event.id, (body = webhookBody(event)));
      this.perHook.set(hook.id, inFlight + 1);
      this.inFlight++;
      const send = this.send(row, leaseId, hook, body).finally(() => {
        this.sends.delete(send);
        this.inFlight--;
        const left = (this.perHook.get(hook.id) ?? 1) - 1;
        if (left <= 0) this.perHook.delete(hook.id);
        else this.perHook.set(hook.id, left);
        this.wake();
      });
      this.sends.add(send);
    }
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
    // The slot stays taken until the outcome is written: a sent delivery whose outcome is not
    // yet recorded is still leased, and is sent again if this process dies. So at most
    // `concurrency` deliveries are ever at risk of a duplicate, however slow the writes.
    await this.record({ kind: "attempt", row, leaseId, startedAt, result, decision });
  }

  /**
   * Queues an outcome; outcomes are written in batches, one transaction each. Resolves once its
   * batch has been written (or has failed: the row then keeps its lease until it expires).
   */
  private record(outcome: Outcome): Promise<void> {
    return new Promise<void>((written) => {
      this.outcomes.push({ outcome, written });
      this.flushing ??= Promise.resolve().then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.outcomes.length) {
        const batch = this.outcomes;
        this.outcomes = [];
        try {
          const now = this.deps.clock.now();
          const events = await recordOutcomes(this.deps.db, batch.map((b) => b.outcome), now, this.options.disableAfterMs);
          this.announce(events);
          this.announceDeliveries(deliveryStates(batch.map((b) => b.outcome), now));
        } catch (error) {
          // The rows keep their lease and become due again when it expires: delayed, not lost.
          this.deps.logger.error({ err: error, count: batch.length }, "recording delivery outcomes failed");
        } finally {
          for (const b of batch) b.written();
        }
      }
    } finally {
      this.flushing = null;
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
