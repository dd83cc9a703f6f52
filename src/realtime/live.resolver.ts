import type { GraphQLResolveInfo } from "graphql";
import { Arg, ID, Resolver, Root, Subscription } from "type-graphql";
import type { SubscribeResolverData } from "type-graphql";
import { checkEventTypes } from "../events/event.service.js";
import { EventType } from "../events/event.types.js";
import { DeliveryType } from "../delivery/delivery.types.js";
import { HookEntity } from "../hooks/hook.entity.js";
import { EventSourceEnum } from "../hooks/hook.types.js";
import type { GraphQLContext } from "../server/context.js";
import { decodeSequenceCursor } from "../shared/cursor.js";
import { AppError, notFound } from "../shared/errors.js";

function liveOf(ctx: GraphQLContext) {
  if (!ctx.live) throw new AppError("BAD_REQUEST", "subscriptions are served over graphql-ws (subprotocol graphql-transport-ws) at /graphql");
  return ctx.live;
}

function caller(ctx: GraphQLContext, info: GraphQLResolveInfo) {
  const live = liveOf(ctx);
  return { accountId: ctx.actor.accountId, subscriptionId: live.subscriptionId, sink: live.sink, info, contextValue: ctx };
}

type Data = SubscribeResolverData<unknown, Record<string, unknown>, GraphQLContext>;

/** Opens `events`: validates the filters and the cursor, then hands over to the live hub. */
function subscribeEvents({ args, context, info }: Data) {
  const live = liveOf(context);
  const types = checkEventTypes(args.types as string[] | null, "types");
  const sources = (args.sources as string[] | null)?.length ? (args.sources as string[]).map((s) => s.toLowerCase()) : undefined;
  const after = typeof args.after === "string" ? decodeSequenceCursor(args.after) : undefined;
  return live.hub.openEvents(caller(context, info), { types, sources, after });
}

/** Opens `deliveryUpdates`: the hook, when named, must be the caller's. */
async function subscribeDeliveries({ args, context, info }: Data) {
  const live = liveOf(context);
  const hookId = typeof args.hookId === "string" ? args.hookId : undefined;
  if (hookId) {
    const hook = await context.deps.db.read((m) => m.findOne(HookEntity, { where: { id: hookId, accountId: context.actor.accountId }, select: { id: true } }));
    if (!hook) throw notFound("hook", hookId, "hookId");
  }
  return live.hub.openDeliveries(caller(context, info), hookId);
}

/** The live stream (graphql-ws): the event log as it grows, and delivery state changes. */
@Resolver()
export class LiveResolver {
  @Subscription(() => EventType, {
    description:
      "The account's events as they are committed: the same Event as the events query and the webhook envelope. With `after`, first replays the log after that cursor, then continues live, with no gap and no duplicate.",
    subscribe: subscribeEvents,
  })
  events(
    @Root() event: EventType,
    @Arg("types", () => [String], { nullable: true, description: "Only these event types (see eventTypes)." }) _types: string[] | null,
    @Arg("sources", () => [EventSourceEnum], { nullable: true, description: "Only events caused by these sources." }) _sources: EventSourceEnum[] | null,
    @Arg("after", () => String, { nullable: true, description: "An Event.cursor: replay the log after it, then go live. Without it: live from now." }) _after: string | null,
  ): EventType {
    return event;
  }

  @Subscription(() => DeliveryType, {
    description:
      "Each delivery state change as it is committed (attempt recorded, delivered, retry scheduled, dead) for one hook, or every hook of the account. Live only: the deliveries query is the catch-up.",
    subscribe: subscribeDeliveries,
  })
  deliveryUpdates(@Root() delivery: DeliveryType, @Arg("hookId", () => ID, { nullable: true }) _hookId: string | null): DeliveryType {
    return delivery;
  }
}
