import { Field, ID, InputType, Int } from "type-graphql";
import { EventSourceEnum, HookOrderingEnum, PayloadModeEnum } from "./hook.types.js";

@InputType("HookBatchInput", { description: "Send several envelopes per POST: when maxSize are due, or when the oldest has waited maxWaitMs." })
export class HookBatchInput {
  @Field(() => Int, { description: "Most envelopes per POST: 1..1000." })
  maxSize!: number;

  @Field(() => Int, { nullable: true, description: "Longest the oldest due delivery waits for the batch to fill: 0..3600000 ms, default 1000." })
  maxWaitMs?: number | null;
}

@InputType("CreateHookInput")
export class CreateHookInput {
  @Field(() => String, { description: "Absolute http(s) URL, no credentials, at most 2,048 characters." })
  url!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => [String], { nullable: true, description: 'Event types; ["*"] (the default) for all.' })
  events?: string[] | null;

  @Field(() => [EventSourceEnum], { nullable: true, description: "Default: all four." })
  sources?: EventSourceEnum[] | null;

  @Field(() => ID, { nullable: true, description: "Only events about contacts of this list." })
  listId?: string | null;

  @Field(() => PayloadModeEnum, { nullable: true, description: "FULL (default): data is the resource; SKINNY: data is { id, __typename } plus a fetch request." })
  payload?: PayloadModeEnum | null;

  @Field(() => String, {
    nullable: true,
    description: "A GraphQL selection set on Contact, e.g. `{ id email tags lists { list { name } status } }` (at most 4,096 characters): contact events' data carries exactly these fields of the event's snapshot. INVALID_SELECTION when it does not validate.",
  })
  selection?: string | null;

  @Field(() => Boolean, { nullable: true, description: "Echo suppression: do not deliver events caused by the API key creating this hook. Default false." })
  excludeOwnChanges?: boolean | null;

  @Field(() => HookOrderingEnum, { nullable: true, description: "Order of delivery; default NONE." })
  ordering?: HookOrderingEnum | null;

  @Field(() => HookBatchInput, { nullable: true, description: "Batching; default none (one envelope per POST)." })
  batch?: HookBatchInput | null;
}

@InputType("UpdateHookInput", { description: "Omitted fields stay; a new url goes through intent verification again." })
export class UpdateHookInput {
  @Field(() => String, { nullable: true })
  url?: string | null;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => [String], { nullable: true })
  events?: string[] | null;

  @Field(() => [EventSourceEnum], { nullable: true })
  sources?: EventSourceEnum[] | null;

  @Field(() => ID, { nullable: true, description: "null removes the list filter." })
  listId?: string | null;

  @Field(() => PayloadModeEnum, { nullable: true })
  payload?: PayloadModeEnum | null;

  @Field(() => String, { nullable: true, description: "null (or an empty string) removes the selection." })
  selection?: string | null;

  @Field(() => Boolean, { nullable: true })
  excludeOwnChanges?: boolean | null;

  @Field(() => HookOrderingEnum, { nullable: true, description: "Applies to deliveries queued from now on." })
  ordering?: HookOrderingEnum | null;

  @Field(() => HookBatchInput, { nullable: true, description: "null stops batching. Applies to deliveries queued from now on." })
  batch?: HookBatchInput | null;
}
