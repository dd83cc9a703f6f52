import { toEnvelope } from "../events/envelope.js";
import type { EventEntity } from "../events/event.entity.js";

/** The webhook body of an event: its envelope as JSON (the same for every hook with FULL payload). */
export function webhookBody(event: EventEntity): string {
  return JSON.stringify(toEnvelope(event));
}
