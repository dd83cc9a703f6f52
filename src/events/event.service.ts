import { In, MoreThan } from "typeorm";
import type { Db } from "../db/index.js";
import { badInput } from "../shared/errors.js";
import { decodeSequenceCursor } from "../shared/cursor.js";
import { EventEntity } from "./event.entity.js";
import { isEventType } from "./event-types.js";

/** Arguments of the `events` query. */
export interface ListEventsArgs {
  after?: string | null;
  /** Page size, 1..500. Default 50. */
  first?: number | null;
  types?: string[] | null;
}

/** A page of events in sequence order. */
export interface EventPage {
  events: EventEntity[];
  hasNextPage: boolean;
}

/** Validates an event-type filter: every name must be in the catalog. */
export function checkEventTypes(types: string[] | null | undefined, field: string): string[] | undefined {
  if (!types || types.length === 0) return undefined;
  for (const t of types) if (!isEventType(t)) throw badInput(field, `unknown event type ${JSON.stringify(t)} (see eventTypes)`);
  return types;
}

/** Pages through an account's log after a cursor (exclusive), oldest first. */
export async function listEvents(db: Db, accountId: string, args: ListEventsArgs): Promise<EventPage> {
  const first = args.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > 500) throw badInput("first", "first must be between 1 and 500");
  const after = args.after ? decodeSequenceCursor(args.after) : 0;
  const types = checkEventTypes(args.types, "types");
  const rows = await db.read((m) =>
    m.find(EventEntity, {
      where: { accountId, sequence: MoreThan(after), ...(types ? { type: In(types) } : {}) },
      order: { sequence: "ASC" },
      take: first + 1,
    }),
  );
  return { events: rows.slice(0, first), hasNextPage: rows.length > first };
}
