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
  return envelopeOf({ ...event, occurredAt: event.occurredAt.toISOString(), cursor: sequenceCursor(event.sequence) });
}

/** The parts of an event an envelope is made of, as the GraphQL `Event` type also carries them. */
export interface EnvelopeParts {
  id: string;
  type: string;
  source: string;
  /** ISO 8601. */
  occurredAt: string;
  sequence: number;
  cursor: string;
  listId?: string | null;
  tag?: string | null;
  data: unknown;
}

/**
 * The envelope of an event's parts, with its keys in the one order every sender uses (webhook
 * bodies, and `hookcast listen` rebuilding them from the stream), so equal events serialize to
 * equal bytes.
 */
export function envelopeOf(e: EnvelopeParts): EventEnvelope {
  return {
    id: e.id,
    type: e.type,
    source: e.source,
    timestamp: e.occurredAt,
    sequence: e.sequence,
    cursor: e.cursor,
    ...(e.listId ? { listId: e.listId } : {}),
    ...(e.tag ? { tag: e.tag } : {}),
    data: e.data,
  };
}
