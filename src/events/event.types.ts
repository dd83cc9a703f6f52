import { Field, GraphQLISODateTime, ID, Int, ObjectType } from "type-graphql";
import { GraphQLJSON } from "graphql-scalars";
import { PageInfoType } from "../contacts/contact.types.js";

/**
 * An event of the log. Same fields and values as the webhook envelope (`timestamp` there is
 * `occurredAt` here) and as the `events` subscription.
 */
@ObjectType("Event", { description: "One change, as the webhook envelope and the events subscription carry it." })
export class EventType {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: "Opaque: pass as `after` to resume after this event." })
  cursor!: string;

  @Field(() => String, { description: "A name from eventTypes, e.g. contact.subscribed." })
  type!: string;

  @Field(() => String, { description: "public, admin, api or system (lowercase, as in the webhook envelope)." })
  source!: string;

  @Field(() => Int, { description: "Per-account, gap-free, in commit order." })
  sequence!: number;

  @Field(() => GraphQLISODateTime)
  occurredAt!: Date;

  @Field(() => ID, { nullable: true, description: "The list of a subscribe/unsubscribe event." })
  listId!: string | null;

  @Field(() => String, { nullable: true, description: "The tag of a tag event." })
  tag!: string | null;

  @Field(() => GraphQLJSON, { description: "The resource at the event's moment, exactly as the API renders it." })
  data!: unknown;
}

@ObjectType("EventEdge")
export class EventEdgeType {
  @Field(() => String)
  cursor!: string;

  @Field(() => EventType)
  node!: EventType;
}

@ObjectType("EventConnection")
export class EventConnectionType {
  @Field(() => [EventEdgeType])
  edges!: EventEdgeType[];

  @Field(() => PageInfoType)
  pageInfo!: PageInfoType;
}

@ObjectType("EventTypeInfo", { description: "An entry of the event catalog." })
export class EventTypeInfoType {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;
}
