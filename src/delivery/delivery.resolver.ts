import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { EventEntity } from "../events/event.entity.js";
import { renderEvent } from "../events/event.resolver.js";
import { EventType } from "../events/event.types.js";
import { HookEntity } from "../hooks/hook.entity.js";
import { renderHook } from "../hooks/hook.service.js";
import { HookType } from "../hooks/hook.types.js";
import type { GraphQLContext } from "../server/context.js";
import { attemptsOf, getDelivery, listDeliveries, redeliver, replayEvents } from "./delivery.service.js";
import { payloadContext, webhookBody } from "./payload.js";
import { DeliveryAttemptType, DeliveryConnectionType, DeliveryStatusEnum, DeliveryType } from "./delivery.types.js";

@Resolver(() => DeliveryType)
export class DeliveryResolver {
  @Query(() => DeliveryConnectionType, { description: "A hook's deliveries, newest first (deleted hooks included)." })
  deliveries(
    @Ctx() ctx: GraphQLContext,
    @Arg("hookId", () => ID) hookId: string,
    @Arg("status", () => DeliveryStatusEnum, { nullable: true }) status: DeliveryStatusEnum | null,
    @Arg("first", () => Int, { nullable: true, description: "1..100, default 20." }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
  ) {
    return listDeliveries(ctx.deps, ctx.actor, { hookId, status, first, after });
  }

  @Query(() => DeliveryType, { description: "One delivery (any hook's, deleted ones included); NOT_FOUND when it is not in the caller's account." })
  delivery(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string) {
    return getDelivery(ctx.deps, ctx.actor, id);
  }

  @Mutation(() => DeliveryType, { description: "Sends a delivery again now, with the same webhook-id." })
  redeliver(@Ctx() ctx: GraphQLContext, @Arg("deliveryId", () => ID) deliveryId: string) {
    return redeliver(ctx.deps, ctx.actor, deliveryId);
  }

  @Mutation(() => Int, { description: "Re-enqueues the hook's matching events after the cursor (at most 10,000); returns how many." })
  replayEvents(@Ctx() ctx: GraphQLContext, @Arg("hookId", () => ID) hookId: string, @Arg("after", () => String, { nullable: true }) after: string | null) {
    return replayEvents(ctx.deps, ctx.actor, hookId, after);
  }

  @FieldResolver(() => [DeliveryAttemptType])
  async attempts(@Root() delivery: DeliveryType, @Ctx() ctx: GraphQLContext): Promise<DeliveryAttemptType[]> {
    return (await attemptsOf(ctx.deps.db, [delivery.id])).get(delivery.id) ?? [];
  }

  @FieldResolver(() => EventType)
  async event(@Root() delivery: DeliveryType, @Ctx() ctx: GraphQLContext): Promise<EventType> {
    const event = await ctx.deps.db.read((m) => m.findOneOrFail(EventEntity, { where: { id: delivery.eventId, accountId: ctx.actor.accountId } }));
    return renderEvent(event);
  }

  @FieldResolver(() => String, {
    description:
      "The JSON body POSTed to the receiver, shaped by the hook's payload options and the same on every attempt (the headers add webhook-id, webhook-timestamp and webhook-signature). For a batched delivery: its element of the batch's `{ batch: [...] }`.",
  })
  async requestBody(@Root() delivery: DeliveryType, @Ctx() ctx: GraphQLContext): Promise<string> {
    const where = { accountId: ctx.actor.accountId };
    const [event, hook] = await ctx.deps.db.read((m) =>
      Promise.all([m.findOneOrFail(EventEntity, { where: { ...where, id: delivery.eventId } }), m.findOneOrFail(HookEntity, { where: { ...where, id: delivery.hookId } })]),
    );
    return webhookBody(event, hook, await payloadContext(ctx.deps.publicUrl()));
  }

  @FieldResolver(() => HookType)
  async hook(@Root() delivery: DeliveryType, @Ctx() ctx: GraphQLContext): Promise<HookType> {
    const hook = await ctx.deps.db.read((m) => m.findOneOrFail(HookEntity, { where: { id: delivery.hookId, accountId: ctx.actor.accountId } }));
    return renderHook(hook);
  }
}
