import type { RateLimit } from "../config.js";
import type { Clock } from "../shared/clock.js";
import { AppError } from "../shared/errors.js";

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
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Tokens regained per ms. */
  private readonly rate: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {
    this.rate = limit.limit / limit.windowMs;
  }

  /** Takes a token for `key`: 0 when the request may go ahead, else the whole seconds until a token is back (≥ 1). */
  take(key: string): number {
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

/** `RATE_LIMITED`, HTTP 429 with `Retry-After`, and `extensions.retryAfterSeconds`. */
export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError("RATE_LIMITED", `rate limit of this API key exceeded; retry in ${retryAfterSeconds} s`, {
    http: 429,
    headers: { "retry-after": String(retryAfterSeconds) },
    extra: { retryAfterSeconds },
  });
}
