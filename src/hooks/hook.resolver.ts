import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { getDelivery } from "../delivery/index.js";
import { DeliveryType } from "../delivery/delivery.types.js";
import type { GraphQLContext } from "../server/context.js";
import * as hooks from "./hook.service.js";
import { CreateHookInput, UpdateHookInput } from "./hook.inputs.js";
import { HookStatsType, HookType, HookWithSecretType } from "./hook.types.js";

@Resolver(() => HookType)
export class HookResolver {
  @Query(() => HookType, { description: "One hook; NOT_FOUND when it is not in the caller's account or was deleted." })
  hook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<HookType> {
    return hooks.getHook(ctx.deps, ctx.actor, id);
  }

  @Query(() => [HookType], { description: "The account's hooks, oldest first." })
  hooks(@Ctx() ctx: GraphQLContext): Promise<HookType[]> {
    return hooks.listHooks(ctx.deps, ctx.actor);
  }

  @Mutation(() => HookWithSecretType, { description: "Subscribes a URL; runs intent verification; returns the signing secret (only here)." })
  createHook(@Ctx() ctx: GraphQLContext, @Arg("input", () => CreateHookInput) input: CreateHookInput): Promise<HookWithSecretType> {
    return hooks.createHook(ctx.deps, ctx.actor, input);
  }

  @Mutation(() => HookType)
  updateHook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string, @Arg("input", () => UpdateHookInput) input: UpdateHookInput): Promise<HookType> {
    return hooks.updateHook(ctx.deps, ctx.actor, id, input);
  }

  @Mutation(() => Boolean, { description: "Deletes the hook; queued deliveries are cancelled, history stays queryable." })
  deleteHook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<boolean> {
    return hooks.deleteHook(ctx.deps, ctx.actor, id);
  }

  @Mutation(() => HookType, { description: "Stops sending; events keep being queued for the hook." })
  pauseHook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<HookType> {
    return hooks.pauseHook(ctx.deps, ctx.actor, id);
  }

  @Mutation(() => HookType, { description: "Reactivates a paused or disabled hook." })
  resumeHook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<HookType> {
    return hooks.resumeHook(ctx.deps, ctx.actor, id);
  }

  @Mutation(() => HookType, { description: "Runs intent verification again for a PENDING_VERIFICATION hook." })
  verifyHook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<HookType> {
    return hooks.verifyHook(ctx.deps, ctx.actor, id);
  }

  @Mutation(() => DeliveryType, { description: "Sends a hook.ping event to this hook only." })
  async pingHook(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<DeliveryType> {
    const deliveryId = await hooks.pingHook(ctx.deps, ctx.actor, id);
    return getDelivery(ctx.deps, ctx.actor, deliveryId) as Promise<DeliveryType>;
  }

  @Mutation(() => HookWithSecretType, { description: "A new signing secret (shown only here); both secrets sign deliveries during the grace period." })
  rotateHookSecret(
    @Ctx() ctx: GraphQLContext,
    @Arg("id", () => ID) id: string,
    @Arg("gracePeriodSeconds", () => Int, { nullable: true, description: "How long the old secret keeps signing: 0..2592000, default 86400 (24 h)." }) grace: number | null,
  ): Promise<HookWithSecretType> {
    return hooks.rotateHookSecret(ctx.deps, ctx.actor, id, grace ?? undefined);
  }

  @FieldResolver(() => HookStatsType)
  stats(@Root() hook: HookType, @Ctx() ctx: GraphQLContext): Promise<HookStatsType> {
    return hooks.hookStats(ctx.deps, hook.id);
  }
}
