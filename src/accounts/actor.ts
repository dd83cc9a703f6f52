import type { EventSource } from "../events/event.entity.js";

/**
 * Who is making a change: the account it is scoped to, the API key (when one was used) and
 * the event source recorded on the events it causes.
 */
export interface Actor {
  readonly accountId: string;
  readonly apiKeyId: string | null;
  readonly source: EventSource;
}

/** The actor for automatic work of an account (bounce processing, 410 clean-up): source `system`. */
export function systemActor(accountId: string): Actor {
  return { accountId, apiKeyId: null, source: "system" };
}

/** The actor for a contact acting on their own (public subscribe form, unsubscribe link): source `public`, no API key. */
export function publicActor(accountId: string): Actor {
  return { accountId, apiKeyId: null, source: "public" };
}
