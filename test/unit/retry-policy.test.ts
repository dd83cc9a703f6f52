import { describe, expect, it } from "vitest";
import { decide, parseRetryAfter, RETRY_AFTER_MAX_MS, RETRY_AFTER_MIN_MS } from "../../src/delivery/retry-policy.js";
import { loadConfig, ConfigError } from "../../src/config.js";

const now = new Date("2026-01-01T00:00:00.000Z");
const schedule = loadConfig({}).retryScheduleMs;

describe("retry policy", () => {
  it("parses the default schedule of API.md", () => {
    expect(schedule).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  });

  it("2xx is delivered, 410 is gone", () => {
    expect(decide({ attemptNumber: 1, statusCode: 200 }, schedule, now).kind).toBe("delivered");
    expect(decide({ attemptNumber: 1, statusCode: 299 }, schedule, now).kind).toBe("delivered");
    expect(decide({ attemptNumber: 3, statusCode: 410 }, schedule, now).kind).toBe("gone");
  });

  it("other statuses and no response retry on the schedule with ±20 % jitter", () => {
    for (const [random, factor] of [[0, 0.8], [0.5, 1], [1, 1.2]] as const) {
      const d = decide({ attemptNumber: 2, statusCode: 500 }, schedule, now, () => random);
      expect(d).toEqual({ kind: "retry", delayMs: Math.round(300_000 * factor), at: new Date(now.getTime() + Math.round(300_000 * factor)) });
    }
    const timeout = decide({ attemptNumber: 1 }, schedule, now, () => 0.5);
    expect(timeout).toMatchObject({ kind: "retry", delayMs: 5_000 });
    expect(decide({ attemptNumber: 1, statusCode: 302 }, schedule, now, () => 0.5).kind).toBe("retry");
  });

  it("is dead after the last retry", () => {
    expect(decide({ attemptNumber: 7, statusCode: 500 }, schedule, now).kind).toBe("retry");
    expect(decide({ attemptNumber: 8, statusCode: 500 }, schedule, now).kind).toBe("dead");
    expect(decide({ attemptNumber: 1, statusCode: 500 }, [], now).kind).toBe("dead");
  });

  it("honours Retry-After in seconds or as a date, clamped to [1 s, 24 h]", () => {
    expect(decide({ attemptNumber: 1, statusCode: 503, retryAfter: "120" }, schedule, now)).toMatchObject({ delayMs: 120_000 });
    expect(decide({ attemptNumber: 1, statusCode: 429, retryAfter: "0" }, schedule, now)).toMatchObject({ delayMs: RETRY_AFTER_MIN_MS });
    expect(decide({ attemptNumber: 1, statusCode: 429, retryAfter: "999999" }, schedule, now)).toMatchObject({ delayMs: RETRY_AFTER_MAX_MS });
    const date = new Date(now.getTime() + 90_000).toUTCString();
    expect(decide({ attemptNumber: 1, statusCode: 503, retryAfter: date }, schedule, now)).toMatchObject({ delayMs: 90_000 });
    expect(decide({ attemptNumber: 1, statusCode: 503, retryAfter: "soon" }, schedule, now, () => 0.5)).toMatchObject({ delayMs: 5_000 });
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("rejects a malformed HOOKCAST_RETRY_SCHEDULE with a clear message", () => {
    expect(() => loadConfig({ HOOKCAST_RETRY_SCHEDULE: "5s,often" })).toThrow(ConfigError);
    expect(() => loadConfig({ HOOKCAST_RETRY_SCHEDULE: "5s,often" })).toThrow(/HOOKCAST_RETRY_SCHEDULE/);
    expect(loadConfig({ HOOKCAST_RETRY_SCHEDULE: "100ms,1s,2m" }).retryScheduleMs).toEqual([100, 1_000, 120_000]);
  });
});
