import { sequenceCursor } from "../shared/cursor.js";
import type { EventEntity } from "./event.entity.js";

/**
 * The envelope every door shows for an event: the webhook body, the `events` query's node and
 * the `events` subscription's payload carry the same fields with the same values.
 */
export interface EventEnvelope {
  id: string;
  type: string;
  source: string;
  /** ISO-8601 time of the change, UTC, milliseconds. */
  timestamp: string;
  /** Per-account, gap-free, in commit order. */
  sequence: number;
  /** Opaque cursor: pass it as `after` to resume after this event. */
  cursor: string;
  /** The list a subscribe/unsubscribe event is about. */
  listId?: string;
  /** The tag a tag event is about. */
  tag?: string;
  data: unknown;
}

/** Renders `event` as its envelope. */
export function toEnvelope(event: EventEntity): EventEnvelope {
  return {
    id: event.id,
    type: event.type,
    source: event.source,
    timestamp: event.occurredAt.toISOString(),
    sequence: event.sequence,
    cursor: sequenceCursor(event.sequence),
    ...(event.listId ? { listId: event.listId } : {}),
    ...(event.tag ? { tag: event.tag } : {}),
    data: event.data,
  };
}
