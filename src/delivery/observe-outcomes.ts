import type { Logger } from "../shared/logger.js";
import { statusClass, type DeliveryOutcomeLabel, type Metrics } from "../shared/metrics.js";
import type { Outcome } from "./record-outcomes.js";

function label(o: Outcome): DeliveryOutcomeLabel {
  switch (o.kind) {
    case "attempt":
      return o.decision.kind;
    case "release":
      return "released";
    case "park":
      return "parked";
    case "cancel":
      return "cancelled";
  }
}

/**
 * The one place where written delivery outcomes become metrics and log lines (called by the
 * dispatcher after each batch is recorded). Every line carries the delivery, hook and event ids;
 * never the body, the headers (signatures) or the URL (it may carry credentials).
 */
export function observeOutcomes(outcomes: readonly Outcome[], metrics: Metrics | undefined, logger: Logger): void {
  for (const o of outcomes) {
    const outcome = label(o);
    metrics?.deliveries.inc({ outcome });
    if (o.kind !== "attempt") {
      logger.debug({ deliveryId: o.row.id, hookId: o.row.hookId, eventId: o.row.eventId, outcome }, `delivery ${outcome}`);
      continue;
    }
    metrics?.attemptDuration.observe({ status_class: statusClass(o.result.statusCode) }, o.result.durationMs / 1000);
    const line = {
      deliveryId: o.row.id,
      hookId: o.row.hookId,
      eventId: o.row.eventId,
      attempt: o.row.attemptCount + 1,
      outcome,
      statusCode: o.result.statusCode ?? null,
      durationMs: o.result.durationMs,
      error: o.result.error,
      nextAttemptAt: o.decision.kind === "retry" ? o.decision.at.toISOString() : undefined,
    };
    if (outcome === "delivered") logger.info(line, "webhook delivered");
    else if (outcome === "retry") logger.warn(line, "webhook attempt failed; retry scheduled");
    else if (outcome === "dead") logger.warn(line, "webhook attempt failed; no retry left");
    else logger.info(line, "receiver answered 410 Gone; hook removed");
  }
}
