import { Field, GraphQLISODateTime, ID, ObjectType } from "type-graphql";

/** The caller's account (`me`). */
@ObjectType("Account", { description: "The account the API key belongs to." })
export class AccountType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;
}
