import { Arg, Ctx, Int, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../server/context.js";
import { sequenceCursor } from "../shared/cursor.js";
import type { EventEntity } from "./event.entity.js";
import { listEvents } from "./event.service.js";
import { EVENT_TYPES } from "./event-types.js";
import { EventConnectionType, EventType, EventTypeInfoType } from "./event.types.js";

/** The GraphQL rendering of a stored event. */
export function renderEvent(e: EventEntity): EventType {
  return {
    id: e.id,
    cursor: sequenceCursor(e.sequence),
    type: e.type,
    source: e.source,
    sequence: e.sequence,
    occurredAt: e.occurredAt,
    listId: e.listId,
    tag: e.tag,
    data: e.data,
  };
}

@Resolver()
export class EventResolver {
  @Query(() => EventConnectionType, { description: "The account's event log after a cursor, oldest first (the catch-up feed)." })
  async events(
    @Ctx() ctx: GraphQLContext,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("first", () => Int, { nullable: true, description: "1..500, default 50." }) first: number | null,
    @Arg("types", () => [String], { nullable: true, description: "Only these event types." }) types: string[] | null,
  ): Promise<EventConnectionType> {
    const page = await listEvents(ctx.deps.db, ctx.actor.accountId, { after, first, types });
    const edges = page.events.map((e) => ({ cursor: sequenceCursor(e.sequence), node: renderEvent(e) }));
    return {
      edges,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        // With no new events, the end cursor stays where the caller was, so polling can resume from it.
        endCursor: edges.length ? edges[edges.length - 1].cursor : (after ?? null),
      },
    };
  }

  @Query(() => [EventTypeInfoType], { description: "The event catalog." })
  eventTypes(): EventTypeInfoType[] {
    return Object.entries(EVENT_TYPES).map(([name, description]) => ({ name, description }));
  }
}
