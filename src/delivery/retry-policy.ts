/**
 * The retry policy: a pure function of the attempt's outcome and the schedule (STYLE.md 4).
 * No clock, no network: `now` and `random` are arguments.
 */

/** What to do after an attempt. */
export type Decision =
  | { kind: "delivered" }
  /** 410 Gone: the receiver unsubscribed (inline unsubscribe): delete the hook. */
  | { kind: "gone" }
  | { kind: "retry"; at: Date; delayMs: number }
  | { kind: "dead" };

/** Bounds on a receiver's `Retry-After`: at least 1 s, at most 24 h. */
export const RETRY_AFTER_MIN_MS = 1_000;
export const RETRY_AFTER_MAX_MS = 86_400_000;

/** Jitter applied to every scheduled delay: ±20 %. */
export const JITTER = 0.2;

export interface AttemptOutcome {
  /** 1 for the first attempt. */
  attemptNumber: number;
  /** HTTP status, or undefined when no response came (timeout, reset, refused). */
  statusCode?: number;
  /** The `Retry-After` header, if any (seconds or an HTTP date). */
  retryAfter?: string | null;
}

/** Parses `Retry-After` (delta seconds or HTTP date) to ms from `now`; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : date - now.getTime();
}

/**
 * Decides the fate of a delivery after an attempt. 2xx: delivered. 410: gone. Otherwise the
 * next retry after `scheduleMs[attemptNumber - 1]` ±20 %, or after the receiver's `Retry-After`
 * clamped to [1 s, 24 h]; dead once the schedule is used up.
 */
export function decide(outcome: AttemptOutcome, scheduleMs: readonly number[], now: Date, random: () => number = Math.random): Decision {
  const status = outcome.statusCode;
  if (status !== undefined && status >= 200 && status < 300) return { kind: "delivered" };
  if (status === 410) return { kind: "gone" };
  if (outcome.attemptNumber > scheduleMs.length) return { kind: "dead" };
  const retryAfter = parseRetryAfter(outcome.retryAfter, now);
  const delayMs =
    retryAfter !== undefined
      ? Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, retryAfter))
      : Math.round(scheduleMs[outcome.attemptNumber - 1] * (1 - JITTER + 2 * JITTER * random()));
  return { kind: "retry", delayMs, at: new Date(now.getTime() + delayMs) };
}
