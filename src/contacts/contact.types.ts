import { Field, GraphQLISODateTime, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { GraphQLJSONObject } from "graphql-scalars";

/** Membership status on a list. */
export enum MembershipStatusEnum {
  SUBSCRIBED = "SUBSCRIBED",
  UNSUBSCRIBED = "UNSUBSCRIBED",
}
registerEnumType(MembershipStatusEnum, { name: "MembershipStatus" });

@ObjectType("List", { description: "A mailing list." })
export class ListType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;
}

@ObjectType("ListMembership", { description: "A contact's membership of one list (kept after unsubscribing)." })
export class ListMembershipType {
  @Field(() => ListType)
  list!: ListType;

  @Field(() => MembershipStatusEnum)
  status!: MembershipStatusEnum;

  @Field(() => GraphQLISODateTime)
  subscribedAt!: Date;

  @Field(() => GraphQLISODateTime, { nullable: true })
  unsubscribedAt!: Date | null;
}

/**
 * A contact. Its full rendering (every field, `lists { list { id name createdAt } status
 * subscribedAt unsubscribedAt }`) is exactly the `data` of the contact's events.
 */
@ObjectType("Contact", { description: "A contact. Event payloads carry exactly this type's rendering." })
export class ContactType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  email!: string;

  @Field(() => String, { nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  lastName!: string | null;

  @Field(() => String, { nullable: true })
  phone!: string | null;

  @Field(() => GraphQLJSONObject, { description: "Custom fields: a JSON object of at most 16 KB." })
  fields!: Record<string, unknown>;

  @Field(() => [String], { description: "Tags, sorted." })
  tags!: string[];

  @Field(() => [ListMembershipType], { description: "List memberships, ordered by list id." })
  lists!: ListMembershipType[];

  @Field(() => Int, { description: "Bounces recorded by recordBounce." })
  bounceCount!: number;

  @Field(() => GraphQLISODateTime, { nullable: true })
  bouncedAt!: Date | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;

  @Field(() => GraphQLISODateTime)
  updatedAt!: Date;
}

@ObjectType("PageInfo")
export class PageInfoType {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType("ContactEdge")
export class ContactEdgeType {
  @Field(() => String)
  cursor!: string;

  @Field(() => ContactType)
  node!: ContactType;
}

@ObjectType("ContactConnection")
export class ContactConnectionType {
  @Field(() => [ContactEdgeType])
  edges!: ContactEdgeType[];

  @Field(() => PageInfoType)
  pageInfo!: PageInfoType;
}
