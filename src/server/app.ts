import type { Config } from "../config.js";
import { bootstrapAccount } from "../accounts/account.service.js";
import { openDb, type Db } from "../db/index.js";
import { HttpClient, startWorker, type Resolver, type Worker, type WorkerOptions } from "../delivery/index.js";
import { EventLog } from "../events/event-log.js";
import { MemoryEventBus, type EventBus } from "../events/event-bus.js";
import { systemClock, type Clock } from "../shared/clock.js";
import { createLogger, type Logger } from "../shared/logger.js";
import type { Deps } from "./context.js";
import { startHttpServer, type HttpServer } from "./http.js";
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
}

/** A running Hookcast process (API and/or worker, per `config.role`). */
export interface Hookcast {
  /** Base URL of the HTTP server (`http://127.0.0.1:<port>`), or null for a worker-only process. */
  readonly url: string | null;
  readonly deps: Deps;
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
  const http = new HttpClient({ connectTimeoutMs: config.connectTimeoutMs, requestTimeoutMs: config.requestTimeoutMs, connectionsPerOrigin: config.perHookInFlight, egress: { allowPrivate: config.allowPrivateTargets, resolve: overrides.resolve } });
  const deps: Deps = { config, db, bus, eventLog: new EventLog(db, bus, clock), clock, logger, http };

  const bootstrapped = await bootstrapAccount(db, config.bootstrapApiKey);
  if (bootstrapped?.generated) {
    // Printed once, on stdout and not through the logger (which redacts keys): keep it.
    process.stdout.write(`${JSON.stringify({ accountId: bootstrapped.accountId, apiKey: bootstrapped.apiKey, note: "first account created; this key is shown only once" })}\n`);
  }

  let server: HttpServer | null = null;
  let live: LiveServer | null = null;
  if (config.role !== "worker") {
    const schema = await buildHookcastSchema();
    server = await startHttpServer(deps, schema, { port: config.port, host: config.host });
    const hub = new LiveHub({ db, bus, logger }, { bufferMessages: config.live.bufferMessages, pollMs: config.live.pollMs });
    live = startLiveServer(deps, schema, server.server, hub);
  }

  let worker: Worker | null = null;
  if (config.role !== "api") worker = startWorker({ config, db, bus, clock, http, logger }, overrides.worker);

  return {
    url: server?.url ?? null,
    deps,
    live,
    async stop() {
      // Sockets first (1001): upgraded connections would otherwise hold the HTTP server's close.
      await live?.stop();
      await server?.stop();
      await worker?.stop();
      await http.close();
      await bus.close();
      await db.close();
    },
  };
}
