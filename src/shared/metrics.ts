import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Every series Hookcast exposes starts with this. */
export const METRIC_PREFIX = "hookcast_";

/** Gauges read from the database on each scrape (queue and hooks); see {@link MetricsOptions.readDbGauges}. */
export interface DbGauges {
  /** Queued deliveries by state: `due` (claimable now), `waiting` (retry scheduled or leased), `parked` (paused/disabled hook). */
  queued: { due: number; waiting: number; parked: number };
  /** Age of the oldest due delivery, in seconds; 0 when nothing is due. */
  oldestDueAgeSeconds: number;
  /** Committed events not fanned out into deliveries yet. */
  fanOutBacklog: number;
  /** Age of the oldest of those events, in seconds; 0 when there is none. */
  fanOutLagSeconds: number;
  /** Hooks (not deleted) by status. */
  hooksByStatus: Record<string, number>;
}

/** Options of {@link Metrics}. */
export interface MetricsOptions {
  /** Reads the database-derived gauges; called once per scrape. Unset: those gauges are absent. */
  readDbGauges?: () => Promise<DbGauges>;
  /** Also expose prom-client's process metrics (CPU, memory, event loop lag), prefixed. Default true. */
  processMetrics?: boolean;
}

/** Outcome labels of `hookcast_deliveries_total`. */
export type DeliveryOutcomeLabel = "delivered" | "retry" | "dead" | "gone" | "released" | "parked" | "cancelled";

const HOOK_STATUSES = ["PENDING_VERIFICATION", "ACTIVE", "PAUSED", "DISABLED"] as const;

/**
 * The metrics of one Hookcast instance, in a registry of its own (never prom-client's global
 * one), so that several instances in one process (tests) do not clash. Counters and histograms
 * are updated by the parts as things happen; the queue and hook gauges are read from the
 * database when `/metrics` is scraped. Every series is documented in docs/operations.md.
 */
export class Metrics {
  readonly registry = new Registry();
  /** `hookcast_events_appended_total{type}`: events committed to the log by this process. */
  readonly eventsAppended: Counter<"type">;
  /** `hookcast_deliveries_total{outcome}`: outcomes written by this process's dispatcher. */
  readonly deliveries: Counter<"outcome">;
  /** `hookcast_delivery_attempt_duration_seconds{status_class}`: one webhook HTTP try, connect to last byte read. */
  readonly attemptDuration: Histogram<"status_class">;
  /** `hookcast_http_request_duration_seconds{method,route,status}`: requests served by this process. */
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  /** `hookcast_live_subscriptions`: open graphql-ws subscriptions in this process. */
  readonly liveSubscriptions: Gauge;
  private workerTickAge: Gauge | null = null;
  private liveCount: (() => number) | null = null;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    this.eventsAppended = new Counter({ name: `${METRIC_PREFIX}events_appended_total`, help: "Events committed to the event log, by type.", labelNames: ["type"], registers });
    this.deliveries = new Counter({
      name: `${METRIC_PREFIX}deliveries_total`,
      help: "Delivery outcomes written by this process: delivered, retry, dead, gone (410), released, parked, cancelled.",
      labelNames: ["outcome"],
      registers,
    });
    this.attemptDuration = new Histogram({
      name: `${METRIC_PREFIX}delivery_attempt_duration_seconds`,
      help: "Duration of one webhook attempt, by status class (2xx, 3xx, 4xx, 5xx, error).",
      labelNames: ["status_class"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: "HTTP requests served, by method, route and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const self = this;
    this.liveSubscriptions = new Gauge({
      name: `${METRIC_PREFIX}live_subscriptions`,
      help: "Open graphql-ws subscriptions in this process.",
      registers,
      collect() {
        if (self.liveCount) this.set(self.liveCount());
      },
    });
    const read = options.readDbGauges;
    if (read) {
      // One read per scrape, shared by the three gauges (their collect() run in parallel). A
      // failed read leaves them out of that scrape: the in-process series are still served.
      let pending: Promise<DbGauges | null> | null = null;
      const snapshot = () =>
        (pending ??= read()
          .catch(() => null)
          .finally(() => setTimeout(() => (pending = null), 0)));
      new Gauge({
        name: `${METRIC_PREFIX}delivery_queue_depth`,
        help: "Queued deliveries by state: due (claimable now), waiting (retry scheduled or in flight), parked (hook paused or disabled).",
        labelNames: ["state"],
        registers,
        async collect() {
          const snap = await snapshot();
          this.reset();
          if (!snap) return;
          const { queued } = snap;
          for (const state of ["due", "waiting", "parked"] as const) this.set({ state }, queued[state]);
        },
      });
      const single = (name: string, help: string, value: (snap: DbGauges) => number) =>
        new Gauge({
          name: `${METRIC_PREFIX}${name}`,
          help,
          registers,
          async collect() {
            const snap = await snapshot();
            this.reset();
            if (snap) this.set(value(snap));
          },
        });
      single("delivery_lag_seconds", "Age of the oldest due delivery (how far the workers are behind); 0 when nothing is due.", (snap) => snap.oldestDueAgeSeconds);
      single("fanout_backlog", "Committed events whose deliveries are not created yet.", (snap) => snap.fanOutBacklog);
      single("fanout_lag_seconds", "Age of the oldest event not fanned out yet; 0 when there is none.", (snap) => snap.fanOutLagSeconds);
      new Gauge({
        name: `${METRIC_PREFIX}hooks`,
        help: "Hooks (not deleted) by status.",
        labelNames: ["status"],
        registers,
        async collect() {
          const snap = await snapshot();
          this.reset();
          if (!snap) return;
          const { hooksByStatus } = snap;
          for (const status of new Set([...HOOK_STATUSES, ...Object.keys(hooksByStatus)])) this.set({ status }, hooksByStatus[status] ?? 0);
        },
      });
    }
  }

  /** Counts events after their transaction committed. */
  eventsCommitted(events: ReadonlyArray<{ type: string }>): void {
    for (const e of events) this.eventsAppended.inc({ type: e.type });
  }

  /** A graphql-ws subscription started (call {@link subscriptionClosed} when it ends). */
  subscriptionOpened(): void {
    this.liveSubscriptions.inc();
  }

  /** A graphql-ws subscription ended. */
  subscriptionClosed(): void {
    this.liveSubscriptions.dec();
  }

  /** Sets the number of open subscriptions outright (for a server that counts them itself). */
  setLiveSubscriptions(count: number): void {
    this.liveSubscriptions.set(count);
  }

  /** Reads `hookcast_live_subscriptions` from `count` at each scrape (the live hub's own count). */
  countLiveSubscriptions(count: () => number): void {
    this.liveCount = count;
  }

  /**
   * Adds `hookcast_worker_last_tick_age_seconds`, read from `lastTick` (the worker loops' last
   * run, epoch ms; null when stopped). Processes without a worker do not have the series.
   */
  watchWorker(lastTick: () => number | null): void {
    if (this.workerTickAge) return;
    this.workerTickAge = new Gauge({
      name: `${METRIC_PREFIX}worker_last_tick_age_seconds`,
      help: "Seconds since this process's worker loops last ran; grows when the worker is stuck.",
      registers: [this.registry],
      collect() {
        const at = lastTick();
        // A stopped worker reports an infinite age: an alert on it fires rather than going quiet.
        this.set(at === null ? Number.POSITIVE_INFINITY : Math.max(0, (Date.now() - at) / 1000));
      },
    });
  }

  /** The Prometheus text exposition of every series. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** `2xx`..`5xx` for a status code, `error` for no response. */
export function statusClass(statusCode: number | null | undefined): string {
  if (!statusCode) return "error";
  return `${Math.floor(statusCode / 100)}xx`;
}
