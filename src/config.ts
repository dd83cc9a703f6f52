/**
 * Hookcast configuration: the only reader of `process.env`. Parsed and validated once at start;
 * a bad value fails with one clear line naming the variable.
 */

/** Which loops a process runs. */
export type Role = "api" | "worker" | "all";

export interface Config {
  /** HTTP port; 0 picks a free one. Default 4000. */
  readonly port: number;
  /** Interface to listen on. Default `0.0.0.0` (`HOST`). */
  readonly host: string;
  /** `sqlite:<path>` (default `sqlite:./data/hookcast.sqlite`) or `mysql://user:pass@host:3306/db`. */
  readonly databaseUrl: string;
  /** Redis for cross-process live streams; unset = in-process only. */
  readonly redisUrl?: string;
  /** On an empty database, the first account gets this API key. */
  readonly bootstrapApiKey?: string;
  /** Allow loopback and private webhook targets (local development and tests only). Default false. */
  readonly allowPrivateTargets: boolean;
  /** Delays between delivery attempts, in ms; its length is the number of retries. */
  readonly retryScheduleMs: readonly number[];
  /** api, worker or all (default). */
  readonly role: Role;
  /** A hook whose every attempt failed for this long is disabled. Default 5 days. */
  readonly disableAfterMs: number;
  /** Attempts of delivered deliveries older than this are purged. Default 30 days. */
  readonly retentionDays: number;
  /** Deliveries in flight per worker process. Default 64. */
  readonly deliveryConcurrency: number;
  /** Deliveries in flight per hook per worker process. Default 16. */
  readonly perHookInFlight: number;
  /** Whole-request timeout of one webhook attempt, in ms. Default 15 s. */
  readonly requestTimeoutMs: number;
  /**
   * How long a worker's claim on a delivery lasts (`HOOKCAST_LEASE`), in ms: a worker that dies
   * (kill -9) leaves its claimed deliveries to other workers once this has passed, and they are
   * sent again (same `webhook-id`). Must exceed the request timeout, since a claim must outlive
   * the request it covers. Default max(60 s, 2 × request timeout).
   */
  readonly leaseMs: number;
  /** TCP connect timeout of one webhook attempt, in ms. Default 5 s. */
  readonly connectTimeoutMs: number;
  /** pino level. Default info. */
  readonly logLevel: string;
  /** `NODE_ENV=production`: GraphQL introspection off. */
  readonly production: boolean;
  /** Live streams (graphql-ws at `/graphql`); see docs/live.md. */
  readonly live: LiveConfig;
}

/** Limits of the live stream (graphql-ws). */
export interface LiveConfig {
  /** Prefix of the Redis pub/sub channels (`HOOKCAST_REDIS_CHANNEL`), so that deployments can share one Redis. Default `hookcast`. */
  readonly redisChannel: string;
  /** Messages sent to one subscription and not yet written to its socket before it is closed with 4408 (`HOOKCAST_LIVE_BUFFER`). Default 1,000. */
  readonly bufferMessages: number;
  /** WebSocket ping period, ms (`HOOKCAST_LIVE_KEEPALIVE`); a socket that does not answer within the next period is terminated. 0 = off. Default 12 s. */
  readonly keepAliveMs: number;
  /** Open graphql-ws connections per account (`HOOKCAST_LIVE_MAX_CONNECTIONS`); one more is closed with 4429. Default 100. */
  readonly maxConnectionsPerAccount: number;
  /** Safety poll of the event log for live streams, ms (`HOOKCAST_LIVE_POLL`): the longest a lost notice delays an event. Default 1 s. */
  readonly pollMs: number;
}

/** Raised for a bad environment variable; `main` prints its message alone and exits 1. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration like `500ms`, `5s`, `30m`, `2h`, `5d` (a bare number is ms). */
export function parseDuration(text: string, name: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new ConfigError(`${name}: "${text}" is not a duration (examples: 500ms, 5s, 30m, 2h, 5d)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]);
}

function parseIntVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}: "${raw}" is not a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name}: ${value} is outside ${min}..${max}`);
  return value;
}

function parseBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name}: "${raw}" is not true or false`);
}

function parseChannel(raw: string | undefined): string {
  const channel = raw || "hookcast";
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(channel)) throw new ConfigError(`HOOKCAST_REDIS_CHANNEL: "${channel}" must be 1 to 100 letters, digits, or _ . : -`);
  return channel;
}

/** What `hookcast listen` reads from the environment when its flags are absent. */
export interface ListenEnv {
  /** `HOOKCAST_URL`, default `http://localhost:<PORT or 4000>`. */
  url: string;
  /** `HOOKCAST_API_KEY`. */
  apiKey?: string;
}

/** The environment defaults of `hookcast listen`. */
export function loadListenEnv(env: NodeJS.ProcessEnv = process.env): ListenEnv {
  return { url: env.HOOKCAST_URL || `http://localhost:${env.PORT || 4000}`, apiKey: env.HOOKCAST_API_KEY || undefined };
}

/** The default retry schedule of API.md. */
export const DEFAULT_RETRY_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h";

/** Reads and validates the configuration from `env` (default `process.env`). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL || "sqlite:./data/hookcast.sqlite";
  if (!/^(sqlite:.+|mysql:\/\/.+|mariadb:\/\/.+)$/.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL: expected sqlite:<path> or mysql://user:pass@host:port/db`);
  }
  const role = (env.HOOKCAST_ROLE || "all") as Role;
  if (!["api", "worker", "all"].includes(role)) throw new ConfigError(`HOOKCAST_ROLE: "${role}" is not api, worker or all`);
  const schedule = (env.HOOKCAST_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE).trim();
  const retryScheduleMs = schedule === "" ? [] : schedule.split(",").map((part) => parseDuration(part, "HOOKCAST_RETRY_SCHEDULE"));
  const bootstrapApiKey = env.HOOKCAST_BOOTSTRAP_API_KEY || undefined;
  if (bootstrapApiKey !== undefined && !/^[\x21-\x7e]{16,200}$/.test(bootstrapApiKey)) {
    throw new ConfigError("HOOKCAST_BOOTSTRAP_API_KEY: use 16 to 200 printable characters without spaces");
  }
  if (env.REDIS_URL && !/^rediss?:\/\//.test(env.REDIS_URL)) throw new ConfigError("REDIS_URL: expected redis://host:port");
  const requestTimeoutMs = env.HOOKCAST_REQUEST_TIMEOUT ? parseDuration(env.HOOKCAST_REQUEST_TIMEOUT, "HOOKCAST_REQUEST_TIMEOUT") : 15_000;
  const leaseMs = env.HOOKCAST_LEASE ? parseDuration(env.HOOKCAST_LEASE, "HOOKCAST_LEASE") : Math.max(60_000, requestTimeoutMs * 2);
  if (leaseMs <= requestTimeoutMs) {
    throw new ConfigError(`HOOKCAST_LEASE: ${leaseMs} ms must exceed the request timeout (${requestTimeoutMs} ms, HOOKCAST_REQUEST_TIMEOUT)`);
  }
  return Object.freeze({
    port: parseIntVar(env, "PORT", 4000, 0, 65_535),
    host: env.HOST || "0.0.0.0",
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    bootstrapApiKey,
    allowPrivateTargets: parseBool(env, "HOOKCAST_ALLOW_PRIVATE_TARGETS", false),
    retryScheduleMs: Object.freeze(retryScheduleMs),
    role,
    disableAfterMs: env.HOOKCAST_DISABLE_AFTER ? parseDuration(env.HOOKCAST_DISABLE_AFTER, "HOOKCAST_DISABLE_AFTER") : 5 * 86_400_000,
    retentionDays: parseIntVar(env, "HOOKCAST_RETENTION_DAYS", 30, 1, 3650),
    deliveryConcurrency: parseIntVar(env, "HOOKCAST_DELIVERY_CONCURRENCY", 64, 1, 4096),
    perHookInFlight: parseIntVar(env, "HOOKCAST_PER_HOOK_IN_FLIGHT", 16, 1, 4096),
    requestTimeoutMs,
    leaseMs,
    connectTimeoutMs: env.HOOKCAST_CONNECT_TIMEOUT ? parseDuration(env.HOOKCAST_CONNECT_TIMEOUT, "HOOKCAST_CONNECT_TIMEOUT") : 5_000,
    logLevel: env.LOG_LEVEL || "info",
    production: env.NODE_ENV === "production",
    live: Object.freeze({
      redisChannel: parseChannel(env.HOOKCAST_REDIS_CHANNEL),
      bufferMessages: parseIntVar(env, "HOOKCAST_LIVE_BUFFER", 1_000, 2, 1_000_000),
      keepAliveMs: env.HOOKCAST_LIVE_KEEPALIVE ? parseDuration(env.HOOKCAST_LIVE_KEEPALIVE, "HOOKCAST_LIVE_KEEPALIVE") : 12_000,
      maxConnectionsPerAccount: parseIntVar(env, "HOOKCAST_LIVE_MAX_CONNECTIONS", 100, 1, 1_000_000),
      pollMs: Math.max(10, env.HOOKCAST_LIVE_POLL ? parseDuration(env.HOOKCAST_LIVE_POLL, "HOOKCAST_LIVE_POLL") : 1_000),
    }),
  });
}
