import { Field, ID, InputType } from "type-graphql";
import { EventSourceEnum } from "./hook.types.js";

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
}
