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
  /** Allow loopback and private webhook targets (local development and tests only; refused with NODE_ENV=production). Default false. */
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
  /**
   * Base URL at which clients reach this API (`HOOKCAST_PUBLIC_URL`, e.g. `https://hooks.example.com`),
   * used in unsubscribe links, form URLs and skinny payloads' `fetch.url`. Unset: the server's
   * own address (`http://<host>:<port>`), which is right only for local use.
   */
  readonly publicUrl?: string;
  /** `NODE_ENV=production`: GraphQL introspection off. */
  readonly production: boolean;
  /**
   * Port of a separate operations server (`/healthz`, `/readyz`, `/metrics`) on `host`
   * (`HOOKCAST_OPS_PORT`). Unset: none; an API process serves them on `port` anyway, so set it
   * for worker-only processes (which have no other HTTP server) or to scrape on an internal port.
   */
  readonly opsPort?: number;
  /** `/readyz` fails when this process's worker loops have not run for this long, ms (`HOOKCAST_WORKER_STALL`). Default 30 s. */
  readonly workerStallMs: number;
  /** Live streams (graphql-ws at `/graphql`); see docs/live.md. */
  readonly live: LiveConfig;
  /**
   * Limits every GraphQL document must stay within (see docs/security.md, "GraphQL limits").
   * With `production`, field suggestions (`Did you mean …?`) are also dropped from errors.
   */
  readonly graphqlLimits: GraphQLLimits;
  /**
   * Requests per API key (`HOOKCAST_RATE_LIMIT`, e.g. `600/60s`): a token bucket of `limit`
   * tokens refilled evenly over `windowMs`. null = no limit (`HOOKCAST_RATE_LIMIT=0`).
   * Default 600 per 60 s. Each process limits on its own, unless `redisUrl` shares the buckets.
   */
  readonly rateLimit: RateLimit | null;
  /**
   * POSTs to the public pages (`/f/…` subscribe form, `/u/…` unsubscribe link) per client address
   * (`HOOKCAST_PUBLIC_RATE_LIMIT`, default `20/60s`, per process; `0` = off). Those pages take no
   * API key, so the address is what is limited (the socket's: behind a proxy every visitor shares
   * the proxy's address, so raise it or limit at the proxy).
   */
  readonly publicRateLimit: RateLimit | null;
}

/** Limits of the live stream (graphql-ws). */
export interface LiveConfig {
  /** Prefix of the Redis pub/sub channels (`HOOKCAST_REDIS_CHANNEL`), so that deployments can share one Redis. Default `hookcast`. */
  readonly redisChannel: string;
  /** Messages of one subscription still waiting for its socket when the next batch is due; more closes it with 4408 (`HOOKCAST_LIVE_BUFFER`). Default 1,000. */
  readonly bufferMessages: number;
  /** WebSocket ping period, ms (`HOOKCAST_LIVE_KEEPALIVE`); a socket that does not answer within the next period is terminated. 0 = off. Default 12 s. */
  readonly keepAliveMs: number;
  /** Open graphql-ws connections per account (`HOOKCAST_LIVE_MAX_CONNECTIONS`); one more is closed with 4429. Default 100. */
  readonly maxConnectionsPerAccount: number;
  /** Safety poll of the event log for live streams, ms (`HOOKCAST_LIVE_POLL`): the longest a lost notice delays an event. Default 1 s. */
  readonly pollMs: number;
}

/** Limits on one GraphQL document; a document over any of them is refused before it runs. */
export interface GraphQLLimits {
  /** Deepest field nesting (`HOOKCAST_GRAPHQL_MAX_DEPTH`). Default 10. */
  readonly maxDepth: number;
  /** Highest cost: about one point per field returned, lists counted at `first` (`HOOKCAST_GRAPHQL_MAX_COST`). Default 50,000. */
  readonly maxCost: number;
  /** Most aliases in one operation (`HOOKCAST_GRAPHQL_MAX_ALIASES`). Default 30. */
  readonly maxAliases: number;
  /** Most lexical tokens in one document (`HOOKCAST_GRAPHQL_MAX_TOKENS`). Default 5,000. */
  readonly maxTokens: number;
}

/** A token bucket's size and refill period. */
export interface RateLimit {
  /** Bucket size: requests allowed in a burst, and per window on average. */
  readonly limit: number;
  /** The window over which `limit` tokens refill, in ms. */
  readonly windowMs: number;
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

function parsePublicUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`HOOKCAST_PUBLIC_URL: "${raw}" is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError("HOOKCAST_PUBLIC_URL: use an http or https URL");
  if (url.search || url.hash || url.username) throw new ConfigError("HOOKCAST_PUBLIC_URL: use a base URL without query, fragment or credentials");
  return url.toString().replace(/\/+$/, "");
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

/** Parses `HOOKCAST_RATE_LIMIT`: `<requests>/<duration>` (`600/60s`, `100/1m`); `0` or `off` = no limit. */
export function parseRateLimit(text: string, name = "HOOKCAST_RATE_LIMIT"): RateLimit | null {
  const trimmed = text.trim();
  if (/^(0|off)$/i.test(trimmed)) return null;
  const match = /^(\d+)\s*\/\s*(.+)$/.exec(trimmed);
  if (!match) throw new ConfigError(`${name}: "${text}" is not <requests>/<duration> (examples: 600/60s, 100/1m, or 0 for no limit)`);
  const limit = Number(match[1]);
  const windowMs = parseDuration(match[2], name);
  if (limit < 1 || limit > 1_000_000 || windowMs < 1_000 || windowMs > 86_400_000) {
    throw new ConfigError(`${name}: "${text}" needs 1..1000000 requests per 1s..1d`);
  }
  return { limit, windowMs };
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
  const publicUrl = env.HOOKCAST_PUBLIC_URL ? parsePublicUrl(env.HOOKCAST_PUBLIC_URL) : undefined;
  const allowPrivateTargets = parseBool(env, "HOOKCAST_ALLOW_PRIVATE_TARGETS", false);
  // A production server takes webhook URLs from its users: opening loopback and private networks
  // there is server-side request forgery by configuration. A private deployment that means it can
  // still run without NODE_ENV=production; the flag alone must not be enough.
  if (allowPrivateTargets && env.NODE_ENV === "production") {
    throw new ConfigError("HOOKCAST_ALLOW_PRIVATE_TARGETS: true is refused with NODE_ENV=production (it opens loopback and private networks to webhook URLs; local development only)");
  }
  return Object.freeze({
    publicUrl,
    port: parseIntVar(env, "PORT", 4000, 0, 65_535),
    host: env.HOST || "0.0.0.0",
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    bootstrapApiKey,
    allowPrivateTargets,
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
    opsPort: env.HOOKCAST_OPS_PORT ? parseIntVar(env, "HOOKCAST_OPS_PORT", 0, 0, 65_535) : undefined,
    workerStallMs: env.HOOKCAST_WORKER_STALL ? parseDuration(env.HOOKCAST_WORKER_STALL, "HOOKCAST_WORKER_STALL") : 30_000,
    live: Object.freeze({
      redisChannel: parseChannel(env.HOOKCAST_REDIS_CHANNEL),
      bufferMessages: parseIntVar(env, "HOOKCAST_LIVE_BUFFER", 1_000, 2, 1_000_000),
      keepAliveMs: env.HOOKCAST_LIVE_KEEPALIVE ? parseDuration(env.HOOKCAST_LIVE_KEEPALIVE, "HOOKCAST_LIVE_KEEPALIVE") : 12_000,
      maxConnectionsPerAccount: parseIntVar(env, "HOOKCAST_LIVE_MAX_CONNECTIONS", 100, 1, 1_000_000),
      pollMs: Math.max(10, env.HOOKCAST_LIVE_POLL ? parseDuration(env.HOOKCAST_LIVE_POLL, "HOOKCAST_LIVE_POLL") : 1_000),
    }),
    graphqlLimits: Object.freeze({
      maxDepth: parseIntVar(env, "HOOKCAST_GRAPHQL_MAX_DEPTH", 10, 1, 1_000),
      maxCost: parseIntVar(env, "HOOKCAST_GRAPHQL_MAX_COST", 50_000, 1, 100_000_000),
      maxAliases: parseIntVar(env, "HOOKCAST_GRAPHQL_MAX_ALIASES", 30, 0, 100_000),
      maxTokens: parseIntVar(env, "HOOKCAST_GRAPHQL_MAX_TOKENS", 5_000, 10, 10_000_000),
    }),
    rateLimit: parseRateLimit(env.HOOKCAST_RATE_LIMIT || "600/60s"),
    publicRateLimit: parseRateLimit(env.HOOKCAST_PUBLIC_RATE_LIMIT || "20/60s", "HOOKCAST_PUBLIC_RATE_LIMIT"),
  });
}
