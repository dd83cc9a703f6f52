import type { Config } from "../config.js";
import { bootstrapAccount } from "../accounts/account.service.js";
import { openDb, type Db } from "../db/index.js";
import { HttpClient, startWorker, type Dialer, type Resolver, type Worker, type WorkerOptions } from "../delivery/index.js";
import { EventLog } from "../events/event-log.js";
import { MemoryEventBus, type EventBus } from "../events/event-bus.js";
import { systemClock, type Clock } from "../shared/clock.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { Metrics } from "../shared/metrics.js";
import { queueStats } from "../delivery/queue-stats.js";
import { countHooksByStatus } from "../hooks/hook-counts.js";
import type { Deps } from "./context.js";
import { dashboardRoute } from "./dashboard.js";
import { checkReadiness } from "./health.js";
import { startHttpServer, type HttpServer } from "./http.js";
import { publicRoutes } from "../contacts/public.routes.js";
import { opsRoute, startOpsServer } from "./ops-routes.js";
import { buildHookcastSchema } from "./schema.js";
import { LiveHub } from "../realtime/live-hub.js";
import { RedisEventBus } from "../realtime/redis-event-bus.js";
import { startLiveServer, type LiveServer } from "../realtime/live-server.js";

/** Replaceable parts, for tests (a manual clock, a silent logger, a shared bus). */
export interface Overrides {
  clock?: Clock;
  logger?: Logger;
  bus?: EventBus;
  /** Worker tuning (tests poll faster). */
  worker?: WorkerOptions;
  /** Name resolution of the egress guard (tests map names to addresses without DNS). */
  resolve?: Resolver;
  /**
   * Opens the egress guard's TCP connections, only ever to a checked address (tests record the
   * address and connect to a loopback receiver instead). Default `net.connect`.
   */
  dial?: Dialer;
  /** prom-client process metrics (CPU, memory, event loop) in this instance's registry. Default true. */
  processMetrics?: boolean;
}

/** A running Hookcast process (API and/or worker, per `config.role`). */
export interface Hookcast {
  /** Base URL of the HTTP server (`http://127.0.0.1:<port>`), or null for a worker-only process. */
  readonly url: string | null;
  /** Base URL of the operations server (`HOOKCAST_OPS_PORT`), or null. */
  readonly opsUrl: string | null;
  readonly deps: Deps;
  /** This instance's metrics (`/metrics`). */
  readonly metrics: Metrics;
  /** The delivery worker of this process, or null (`HOOKCAST_ROLE=api`). */
  readonly worker: Worker | null;
  /** graphql-ws at `/graphql` (null for a worker-only process). */
  readonly live: LiveServer | null;
  /** Stops the HTTP server and the loops, then closes the database. Resolves within 10 s. */
  stop(): Promise<void>;
}

/**
 * The composition root: opens the database (applying migrations), creates the first account on
 * an empty database, and starts the parts that `config.role` asks for.
 */
export async function startHookcast(config: Config, overrides: Overrides = {}): Promise<Hookcast> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  // With REDIS_URL, notices cross processes (live streams and fan-out wake-ups); else in-process.
  const bus = overrides.bus ?? (config.redisUrl ? await RedisEventBus.connect(config.redisUrl, config.live.redisChannel, logger) : new MemoryEventBus());
  const db: Db = await openDb(config.databaseUrl);
  const http = new HttpClient({ connectTimeoutMs: config.connectTimeoutMs, requestTimeoutMs: config.requestTimeoutMs, connectionsPerOrigin: config.perHookInFlight, egress: { allowPrivate: config.allowPrivateTargets, resolve: overrides.resolve, dial: overrides.dial } });
  let server: HttpServer | null = null;
  const publicUrl = () => config.publicUrl ?? server?.url ?? `http://localhost:${config.port}`;
  const metrics = new Metrics({
    processMetrics: overrides.processMetrics,
    readDbGauges: async () => {
      const queue = await queueStats(db, clock.now());
      return { queued: queue, oldestDueAgeSeconds: queue.oldestDueAgeSeconds, fanOutBacklog: queue.fanOutBacklog, fanOutLagSeconds: queue.fanOutLagSeconds, hooksByStatus: await countHooksByStatus(db) };
    },
  });
  const eventLog = new EventLog(db, bus, clock, (events) => metrics.eventsCommitted(events));
  const deps: Deps = { config, db, bus, eventLog, clock, logger, http, metrics, publicUrl };

  const bootstrapped = await bootstrapAccount(db, config.bootstrapApiKey);
  if (bootstrapped?.generated) {
    // Printed once, on stdout and not through the logger (which redacts keys): keep it.
    process.stdout.write(`${JSON.stringify({ accountId: bootstrapped.accountId, apiKey: bootstrapped.apiKey, note: "first account created; this key is shown only once" })}\n`);
  }

  let worker: Worker | null = null;
  const ops = {
    metrics,
    logger,
    readiness: () => checkReadiness({ db, worker, stallMs: config.workerStallMs }),
  };
  let live: LiveServer | null = null;
  if (config.role !== "worker") {
    const schema = await buildHookcastSchema();
    server = await startHttpServer(deps, schema, { port: config.port, host: config.host, routes: [opsRoute(ops), await dashboardRoute(), ...publicRoutes(deps)] });
    const hub = new LiveHub({ db, bus, logger }, { bufferMessages: config.live.bufferMessages, pollMs: config.live.pollMs });
    live = startLiveServer(deps, schema, server.server, hub);
    metrics.countLiveSubscriptions(() => hub.subscriptionCount);
  }
  const opsServer = config.opsPort !== undefined ? await startOpsServer(ops, { port: config.opsPort, host: config.host }) : null;

  if (config.role !== "api") worker = startWorker({ config: { ...config, publicUrl: publicUrl() }, db, bus, clock, http, logger, metrics }, overrides.worker);
  if (worker) metrics.watchWorker(() => worker?.lastTickAt() ?? null);

  return {
    url: server?.url ?? null,
    opsUrl: opsServer?.url ?? null,
    deps,
    metrics,
    worker,
    live,
    async stop() {
      // Sockets first (1001): upgraded connections would otherwise hold the HTTP server's close.
      await live?.stop();
      await server?.stop();
      await opsServer?.stop();
      await worker?.stop();
      await http.close();
      await bus.close();
      await db.close();
    },
  };
}
