import { toEnvelope } from "../events/envelope.js";
import type { EventEntity } from "../events/event.entity.js";

/** The webhook body of an event: its envelope as JSON (the same for every hook with FULL payload). */
export function webhookBody(event: EventEntity): string {
  return JSON.stringify(toEnvelope(event));
}

/**
 * The body of a batch: `{"batch":[…]}` with each member's webhook body, in sequence order. The
 * members' bodies are spliced in as they are, so a batch carries exactly what the receiver would
 * get one by one.
 */
export function batchBody(bodies: readonly string[]): string {
  return `{"batch":[${bodies.join(",")}]}`;
}
