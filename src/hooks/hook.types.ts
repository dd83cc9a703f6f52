import { Field, GraphQLISODateTime, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum HookStatusEnum {
  PENDING_VERIFICATION = "PENDING_VERIFICATION",
  ACTIVE = "ACTIVE",
  PAUSED = "PAUSED",
  DISABLED = "DISABLED",
}
registerEnumType(HookStatusEnum, {
  name: "HookStatus",
  valuesConfig: {
    PENDING_VERIFICATION: { description: "Waiting for the receiver to echo X-Hook-Secret; receives nothing." },
    ACTIVE: { description: "Receives matching events." },
    PAUSED: { description: "Events are queued but not sent until resumeHook." },
    DISABLED: { description: "Every attempt failed for HOOKCAST_DISABLE_AFTER; receives nothing until resumeHook." },
  },
});

/** Event sources a hook can filter on. */
export enum EventSourceEnum {
  PUBLIC = "PUBLIC",
  ADMIN = "ADMIN",
  API = "API",
  SYSTEM = "SYSTEM",
}
registerEnumType(EventSourceEnum, { name: "EventSource", description: "Who caused an event (lowercase in envelopes)." });

/** What a hook's deliveries carry in `data`. */
export enum PayloadModeEnum {
  FULL = "FULL",
  SKINNY = "SKINNY",
}
registerEnumType(PayloadModeEnum, {
  name: "PayloadMode",
  description: "What a webhook's `data` carries (docs/webhooks.md).",
  valuesConfig: {
    FULL: { description: "The resource as it was at the event's moment (or the hook's `selection` of it). The default." },
    SKINNY: { description: "`data: { id, __typename }` plus `fetch: { url, query, variables }`, one GraphQL request that reads the resource (its current state)." },
  },
});

/** In which order a hook's deliveries reach its receiver. */
export enum HookOrderingEnum {
  NONE = "NONE",
  PER_CONTACT = "PER_CONTACT",
  STRICT = "STRICT",
}
registerEnumType(HookOrderingEnum, {
  name: "HookOrdering",
  description: "Order of delivery (docs/webhooks.md): what a receiver may rely on, and what a failing receiver holds back.",
  valuesConfig: {
    NONE: { description: "Concurrent delivery, any order (fastest; the default). Use `sequence` to order." },
    PER_CONTACT: { description: "Events about one contact arrive one at a time in sequence order, across retries and workers; other contacts are not held back." },
    STRICT: { description: "The hook's whole stream arrives one at a time in sequence order." },
  },
});

@ObjectType("HookBatch", { description: "Batching of a hook: several envelopes per POST." })
export class HookBatchType {
  @Field(() => Int, { description: "Most envelopes per POST (1..1000)." })
  maxSize!: number;

  @Field(() => Int, { description: "Longest the oldest due delivery waits for the batch to fill, ms." })
  maxWaitMs!: number;
}

@ObjectType("HookStats", { description: "Delivery health of a hook." })
export class HookStatsType {
  @Field(() => Int, { description: "Deliveries delivered." })
  delivered!: number;

  @Field(() => Int, { description: "Deliveries whose last attempt failed, awaiting a retry." })
  failed!: number;

  @Field(() => Int, { description: "Deliveries not yet attempted or in flight." })
  pending!: number;

  @Field(() => Int, { description: "Deliveries given up after the last retry." })
  dead!: number;

  @Field(() => GraphQLISODateTime, { nullable: true, description: "When a delivery last succeeded, exact to a second (a steady flow refreshes it at most once a second)." })
  lastDeliveredAt!: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  lastFailureAt!: Date | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Int)
  consecutiveFailures!: number;
}

@ObjectType("Hook", { description: "A webhook subscription (REST hook)." })
export class HookType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => String)
  url!: string;

  @Field(() => [String], { description: 'Event types, or ["*"] for all.' })
  events!: string[];

  @Field(() => [EventSourceEnum])
  sources!: EventSourceEnum[];

  @Field(() => ID, { nullable: true, description: "Only events about contacts of this list." })
  listId!: string | null;

  @Field(() => HookStatusEnum)
  status!: HookStatusEnum;

  @Field(() => PayloadModeEnum, { description: "FULL (default) or SKINNY." })
  payload!: PayloadModeEnum;

  @Field(() => String, { nullable: true, description: "Selection set on Contact shaping contact events' data (and a skinny payload's fetch query); null = every field." })
  selection!: string | null;

  @Field(() => Boolean, { description: "Echo suppression: events caused by the API key that created the hook are not delivered to it." })
  excludeOwnChanges!: boolean;

  @Field(() => String, { nullable: true, description: "Why the last intent verification failed." })
  verificationError!: string | null;

  @Field(() => String, { nullable: true, description: "Why the hook was disabled." })
  disabledReason!: string | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;

  @Field(() => GraphQLISODateTime)
  updatedAt!: Date;

  @Field(() => GraphQLISODateTime, { nullable: true, description: "Set on deleted hooks (seen through a delivery's hook)." })
  deletedAt!: Date | null;

  @Field(() => String, { nullable: true })
  deletedReason!: string | null;

  @Field(() => HookOrderingEnum, { description: "Order of delivery; default NONE." })
  ordering!: HookOrderingEnum;

  @Field(() => HookBatchType, { nullable: true, description: "Batching; null = one envelope per POST." })
  batch!: HookBatchType | null;
}

@ObjectType("CreateHookPayload")
export class HookWithSecretType {
  @Field(() => HookType)
  hook!: HookType;

  @Field(() => String, { description: "The whsec_ signing secret. Shown only here: store it." })
  secret!: string;
}
