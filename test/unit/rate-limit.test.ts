import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/shared/clock.js";
import { MemoryRateLimiter as RateLimiter, RedisRateLimiter, rateLimited } from "../../src/server/rate-limit.js";
import { silentLogger } from "../../src/shared/logger.js";

describe("RateLimiter (token bucket per key)", () => {
  it("allows a burst of `limit`, then one request per window/limit, and says how long to wait", () => {
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    const limiter = new RateLimiter({ limit: 5, windowMs: 10_000 }, clock); // a token every 2 s
    for (let i = 0; i < 5; i++) expect(limiter.takeNow("k")).toBe(0);
    expect(limiter.takeNow("k")).toBe(2);
    clock.advance(1_500);
    expect(limiter.takeNow("k")).toBe(1); // 0.75 of a token: 0.5 s more, rounded up to whole seconds
    clock.advance(500);
    expect(limiter.takeNow("k")).toBe(0);
    expect(limiter.takeNow("k")).toBe(2);
    // Refills never exceed the bucket: after an hour, again exactly 5.
    clock.advance(3_600_000);
    for (let i = 0; i < 5; i++) expect(limiter.takeNow("k")).toBe(0);
    expect(limiter.takeNow("k")).toBeGreaterThan(0);
  });

  it("keeps keys apart, and a clock that goes back neither refills nor breaks", () => {
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    const limiter = new RateLimiter({ limit: 1, windowMs: 60_000 }, clock);
    expect(limiter.takeNow("a")).toBe(0);
    expect(limiter.takeNow("a")).toBe(60);
    expect(limiter.takeNow("b")).toBe(0);
    clock.advance(-30_000);
    expect(limiter.takeNow("a")).toBe(60);
    clock.advance(90_000); // 60 s after the first take
    expect(limiter.takeNow("a")).toBe(0);
  });

  it("forgets idle keys once there are many (memory stays bounded)", () => {
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    const limiter = new RateLimiter({ limit: 2, windowMs: 1_000 }, clock);
    for (let i = 0; i < 10_000; i++) limiter.takeNow(`key-${i}`);
    clock.advance(1_000);
    limiter.takeNow("newcomer");
    expect((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(1);
  });

  it("refuses with RATE_LIMITED, HTTP 429 and a Retry-After header", () => {
    const error = rateLimited(7);
    expect(error.extensions).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 7, http: { status: 429 } });
    expect([...(error.extensions.http as { headers: Map<string, string> }).headers]).toEqual([["retry-after", "7"]]);
  });

  it("lets requests through while Redis does not answer (an outage of Redis must not stop the API)", async () => {
    // Nothing listens on port 1: every take fails, and fails open. (A process whose live stream
    // needs Redis refuses to start without it; the limiter alone never blocks on it.)
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    const limiter = await RedisRateLimiter.connect("redis://127.0.0.1:1", { limit: 1, windowMs: 60_000 }, clock, silentLogger);
    try {
      for (let i = 0; i < 3; i++) expect(await limiter.take("k")).toBe(0);
    } finally {
      await limiter.close();
    }
  });
});
