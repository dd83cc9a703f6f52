import { Field, ID, InputType } from "type-graphql";
import { GraphQLJSONObject } from "graphql-scalars";

@InputType("CreateContactInput")
export class CreateContactInput {
  @Field(() => String, { description: "Email address, at most 254 characters; unique per account (case-insensitive)." })
  email!: string;

  @Field(() => String, { nullable: true, description: "At most 255 characters." })
  firstName?: string | null;

  @Field(() => String, { nullable: true, description: "At most 255 characters." })
  lastName?: string | null;

  @Field(() => String, { nullable: true, description: "At most 64 characters." })
  phone?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Custom fields: a JSON object, at most 16 KB serialized." })
  fields?: Record<string, unknown> | null;
}

@InputType("UpdateContactInput", { description: "Fields to change; omitted fields stay as they are, null clears a field. `fields` replaces the whole object." })
export class UpdateContactInput {
  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  firstName?: string | null;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  fields?: Record<string, unknown> | null;
}

@InputType("ContactFilter")
export class ContactFilter {
  @Field(() => String, { nullable: true, description: "Exact email (case-insensitive)." })
  email?: string | null;

  @Field(() => ID, { nullable: true, description: "Only contacts subscribed to this list." })
  listId?: string | null;

  @Field(() => String, { nullable: true, description: "Only contacts with this tag." })
  tag?: string | null;
}

@InputType("CreateListInput")
export class CreateListInput {
  @Field(() => String, { description: "1 to 200 characters, unique per account." })
  name!: string;
}
