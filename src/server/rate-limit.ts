import { Redis } from "ioredis";
import type { RateLimit } from "../config.js";
import type { Clock } from "../shared/clock.js";
import { AppError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/** Per-API-key token buckets: in process memory, or in Redis to share them between processes. */
export interface RateLimiter {
  /** Takes a token for `key`: 0 when the request may go ahead, else the whole seconds until a token is back (≥ 1). */
  take(key: string): Promise<number>;
  close(): Promise<void>;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in ms since the epoch. */
  at: number;
}

// Buckets kept before full (idle) ones are dropped: a bucket that has refilled says nothing.
const SWEEP_ABOVE = 10_000;

/**
 * Per-API-key token buckets, in process memory: each process limits on its own, so N API
 * processes allow up to N times the limit. A key starts with a full bucket of `limit` tokens,
 * each request takes one, and tokens come back evenly, `limit` per `windowMs`.
 * Time comes from the injected clock (tests move it by hand).
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Tokens regained per ms. */
  private readonly rate: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {
    this.rate = limit.limit / limit.windowMs;
  }

  async take(key: string): Promise<number> {
    return this.takeNow(key);
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }

  /** {@link take}, synchronously. */
  takeNow(key: string): number {
    const now = this.clock.now().getTime();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= SWEEP_ABOVE) this.sweep(now);
      bucket = { tokens: this.limit.limit, at: now };
      this.buckets.set(key, bucket);
    } else {
      // A clock that went backwards refills nothing (and takes nothing back).
      bucket.tokens = Math.min(this.limit.limit, bucket.tokens + Math.max(0, now - bucket.at) * this.rate);
      bucket.at = Math.max(bucket.at, now);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate / 1_000));
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.rate >= this.limit.limit) this.buckets.delete(key);
    }
  }
}

// The same bucket as MemoryRateLimiter, as one atomic step in Redis. KEYS[1] = bucket;
// ARGV = limit, window (ms), now (ms). Returns the seconds to wait (0 = token taken).
const TAKE_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local rate = limit / window
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = limit
  at = now
elseif now > at then
  tokens = math.min(limit, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate / 1000))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(window))
return wait
`;

/**
 * Token buckets in Redis (when `REDIS_URL` is set): every API process shares one bucket per key,
 * so the limit holds for the whole deployment. Each take is one atomic script; a bucket expires
 * once it would be full again. "Now" is the calling process's clock (keep clocks in sync, as
 * NTP does). If Redis does not answer (500 ms), the request is let through and a warning logged
 * at most once a minute: an outage of Redis must not take the API down.
 */
export class RedisRateLimiter implements RateLimiter {
  private lastWarning = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly limit: RateLimit,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly prefix: string,
  ) {}

  /** Connects to `url`; a Redis that is down at start only means failing open until it is back. */
  static async connect(url: string, limit: RateLimit, clock: Clock, logger: Logger, prefix = "hookcast:ratelimit:"): Promise<RedisRateLimiter> {
    const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
    redis.defineCommand("hookcastTakeToken", { numberOfKeys: 1, lua: TAKE_SCRIPT });
    redis.on("error", () => {}); // reported through the failing takes below
    try {
      await redis.connect();
    } catch (error) {
      logger.warn({ err: error }, "rate limiting: Redis unreachable; requests are let through until it is back");
    }
    return new RedisRateLimiter(redis, limit, clock, logger, prefix);
  }

  async take(key: string): Promise<number> {
    try {
      const take = (this.redis as unknown as { hookcastTakeToken(key: string, ...args: number[]): Promise<number> }).hookcastTakeToken;
      return Number(await take.call(this.redis, this.prefix + key, this.limit.limit, this.limit.windowMs, this.clock.now().getTime()));
    } catch (error) {
      const now = Date.now();
      if (now - this.lastWarning > 60_000) {
        this.lastWarning = now;
        this.logger.warn({ err: error }, "rate limiting: Redis did not answer; request let through");
      }
      return 0;
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** The limiter for `limit` (none when null): shared through Redis when `redisUrl` is set, else per process. */
export async function createRateLimiter(limit: RateLimit | null, options: { clock: Clock; logger: Logger; redisUrl?: string }): Promise<RateLimiter | null> {
  if (!limit) return null;
  if (options.redisUrl) return RedisRateLimiter.connect(options.redisUrl, limit, options.clock, options.logger);
  return new MemoryRateLimiter(limit, options.clock);
}

/** `RATE_LIMITED`, HTTP 429 with `Retry-After`, and `extensions.retryAfterSeconds`. */
export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError("RATE_LIMITED", `rate limit of this API key exceeded; retry in ${retryAfterSeconds} s`, {
    http: 429,
    headers: { "retry-after": String(retryAfterSeconds) },
    extra: { retryAfterSeconds },
  });
}
