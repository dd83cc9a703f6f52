import type { Config } from "../config.js";
import type { Db } from "../db/index.js";
import type { EventBus } from "../events/event-bus.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { Metrics } from "../shared/metrics.js";
import { Dispatcher } from "./dispatcher.js";
import { fanOutBatch } from "./fan-out.js";
import type { HttpClient } from "./http-client.js";
import { purgeDeliveredAttempts } from "./retention.js";

/** A running delivery worker. */
export interface Worker {
  /** Stops fan-out and dispatch; in-flight requests finish or are released. */
  stop(): Promise<void>;
  /** Wakes the loops (new events or deliveries were committed). */
  wake(): void;
  /**
   * When both loops (fan-out and dispatch) last ran, as epoch ms: the older of the two; null once
   * stopped. Each loop runs at least every poll interval, so an old value means a stuck worker.
   */
  lastTickAt(): number | null;
}

/** What the worker uses. */
export interface WorkerDeps {
  config: Config;
  db: Db;
  bus: EventBus;
  clock: Clock;
  http: HttpClient;
  logger: Logger;
  metrics?: Metrics;
}

/** Options for tests: faster polling. */
export interface WorkerOptions {
  pollIntervalMs?: number;
  leaseMs?: number;
}

/**
 * Starts the delivery worker of a process: the fan-out loop (events → deliveries), the
 * dispatcher (deliveries → HTTP), and hourly retention. Both loops poll the tables and are woken
 * early by bus notices; the tables are the truth.
 */
export function startWorker(deps: WorkerDeps, options: WorkerOptions = {}): Worker {
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const dispatcher = new Dispatcher(
    { db: deps.db, clock: deps.clock, http: deps.http, logger: deps.logger, bus: deps.bus, metrics: deps.metrics },
    {
      concurrency: deps.config.deliveryConcurrency,
      perHookInFlight: deps.config.perHookInFlight,
      retryScheduleMs: deps.config.retryScheduleMs,
      disableAfterMs: deps.config.disableAfterMs,
      leaseMs: options.leaseMs ?? deps.config.leaseMs,
      pollIntervalMs,
      publicUrl: deps.config.publicUrl,
    },
  ).start();

  let stopping = false;
  let wakeFanOut: (() => void) | null = null;
  let pending = true;
  let fanOutTickAt = Date.now();
  const fanOutLoop = (async () => {
    while (!stopping) {
      fanOutTickAt = Date.now();
      pending = false;
      try {
        let processed;
        do {
          processed = await fanOutBatch(deps.db, () => deps.clock.now());
          fanOutTickAt = Date.now();
          if (processed.deliveries > 0) dispatcher.wake();
        } while (processed.events > 0 && !stopping);
      } catch (error) {
        deps.logger.error({ err: error }, "fan-out failed; retrying");
      }
      dispatcher.wake();
      if (!pending && !stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollIntervalMs);
          wakeFanOut = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wakeFanOut = null;
      }
    }
  })();
  const wake = () => {
    pending = true;
    wakeFanOut?.();
  };
  const unsubscribe = deps.bus.subscribe(wake);

  const purge = () =>
    purgeDeliveredAttempts(deps.db, new Date(deps.clock.now().getTime() - deps.config.retentionDays * 86_400_000)).catch((error) =>
      deps.logger.error({ err: error }, "retention purge failed"),
    );
  const retention = setInterval(purge, 3_600_000);
  retention.unref();
  void purge();

  return {
    wake,
    lastTickAt: () => (stopping ? null : Math.min(fanOutTickAt, dispatcher.lastTickAt ?? fanOutTickAt)),
    async stop() {
      stopping = true;
      unsubscribe();
      clearInterval(retention);
      wakeFanOut?.();
      await fanOutLoop;
      await dispatcher.stop();
    },
  };
}
