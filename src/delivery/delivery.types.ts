import { Field, GraphQLISODateTime, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { PageInfoType } from "../contacts/contact.types.js";

export enum DeliveryStatusEnum {
  PENDING = "PENDING",
  DELIVERING = "DELIVERING",
  DELIVERED = "DELIVERED",
  FAILED = "FAILED",
  DEAD = "DEAD",
  CANCELLED = "CANCELLED",
}
registerEnumType(DeliveryStatusEnum, {
  name: "DeliveryStatus",
  valuesConfig: {
    PENDING: { description: "Queued, not attempted yet." },
    DELIVERING: { description: "Claimed by a worker; a request is in flight." },
    DELIVERED: { description: "The receiver answered 2xx." },
    FAILED: { description: "The last attempt failed; a retry is scheduled at nextAttemptAt." },
    DEAD: { description: "Every retry failed; redeliver sends it again." },
    CANCELLED: { description: "The hook was deleted (or answered 410) before delivery." },
  },
});

@ObjectType("DeliveryAttempt", { description: "One HTTP try of a delivery." })
export class DeliveryAttemptType {
  @Field(() => ID)
  id!: string;

  @Field(() => Int)
  attemptNumber!: number;

  @Field(() => GraphQLISODateTime)
  startedAt!: Date;

  @Field(() => Int)
  durationMs!: number;

  @Field(() => Int, { nullable: true, description: "null when no response came." })
  statusCode!: number | null;

  @Field(() => String, { nullable: true, description: "First 2 KB of the response body." })
  responseExcerpt!: string | null;

  @Field(() => String, { nullable: true, description: "Why no response came (timeout, reset, refused...)." })
  error!: string | null;
}

/** The fields of a delivery row the resolvers need (event and hook are resolved by id). */
@ObjectType("Delivery", { description: "One event to one hook." })
export class DeliveryType {
  @Field(() => ID, { description: "Also the webhook-id header: the receiver's idempotency key." })
  id!: string;

  @Field(() => DeliveryStatusEnum)
  status!: DeliveryStatusEnum;

  @Field(() => Int)
  attemptCount!: number;

  @Field(() => GraphQLISODateTime, { nullable: true })
  nextAttemptAt!: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => Int, { nullable: true })
  lastStatusCode!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;

  @Field(() => GraphQLISODateTime)
  updatedAt!: Date;

  @Field(() => ID, { nullable: true, description: "Batched hooks: the batch this delivery was last sent in; the batch's webhook-id." })
  batchId!: string | null;

  hookId!: string;
  eventId!: string;
  accountId!: string;
}

@ObjectType("DeliveryEdge")
export class DeliveryEdgeType {
  @Field(() => String)
  cursor!: string;

  @Field(() => DeliveryType)
  node!: DeliveryType;
}

@ObjectType("DeliveryConnection")
export class DeliveryConnectionType {
  @Field(() => [DeliveryEdgeType])
  edges!: DeliveryEdgeType[];

  @Field(() => PageInfoType)
  pageInfo!: PageInfoType;
}
