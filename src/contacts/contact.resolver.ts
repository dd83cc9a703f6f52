import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../server/context.js";
import * as contacts from "./contact.service.js";
import { ContactFilter, CreateContactInput, CreateListInput, UpdateContactInput } from "./contact.inputs.js";
import { ContactConnectionType, ContactType, ListType } from "./contact.types.js";

/** Contacts, lists and tags: thin resolvers over contact.service. */
@Resolver()
export class ContactResolver {
  @Query(() => ContactType, { description: "One contact; NOT_FOUND when it is not in the caller's account." })
  contact(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<ContactType> {
    return contacts.getContact(ctx.deps, ctx.actor, id);
  }

  @Query(() => ContactConnectionType, { description: "Contacts in creation order (Relay cursor pagination)." })
  contacts(
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true, description: "1..100, default 20." }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("filter", () => ContactFilter, { nullable: true }) filter: ContactFilter | null,
  ) {
    return contacts.listContacts(ctx.deps, ctx.actor, { first, after, filter });
  }

  @Query(() => [ListType], { description: "The account's lists, by name." })
  lists(@Ctx() ctx: GraphQLContext): Promise<ListType[]> {
    return contacts.listLists(ctx.deps, ctx.actor);
  }

  @Mutation(() => ContactType)
  createContact(@Ctx() ctx: GraphQLContext, @Arg("input", () => CreateContactInput) input: CreateContactInput): Promise<ContactType> {
    return contacts.createContact(ctx.deps, ctx.actor, input);
  }

  @Mutation(() => ContactType)
  updateContact(
    @Ctx() ctx: GraphQLContext,
    @Arg("id", () => ID) id: string,
    @Arg("input", () => UpdateContactInput) input: UpdateContactInput,
  ): Promise<ContactType> {
    return contacts.updateContact(ctx.deps, ctx.actor, id, input);
  }

  @Mutation(() => Boolean)
  deleteContact(@Ctx() ctx: GraphQLContext, @Arg("id", () => ID) id: string): Promise<boolean> {
    return contacts.deleteContact(ctx.deps, ctx.actor, id);
  }

  @Mutation(() => ListType)
  createList(@Ctx() ctx: GraphQLContext, @Arg("input", () => CreateListInput) input: CreateListInput): Promise<ListType> {
    return contacts.createList(ctx.deps, ctx.actor, input);
  }

  @Mutation(() => ContactType)
  subscribeContact(@Ctx() ctx: GraphQLContext, @Arg("contactId", () => ID) contactId: string, @Arg("listId", () => ID) listId: string): Promise<ContactType> {
    return contacts.subscribeContact(ctx.deps, ctx.actor, contactId, listId);
  }

  @Mutation(() => ContactType)
  unsubscribeContact(@Ctx() ctx: GraphQLContext, @Arg("contactId", () => ID) contactId: string, @Arg("listId", () => ID) listId: string): Promise<ContactType> {
    return contacts.unsubscribeContact(ctx.deps, ctx.actor, contactId, listId);
  }

  @Mutation(() => ContactType)
  tagContact(@Ctx() ctx: GraphQLContext, @Arg("contactId", () => ID) contactId: string, @Arg("tag", () => String) tag: string): Promise<ContactType> {
    return contacts.tagContact(ctx.deps, ctx.actor, contactId, tag);
  }

  @Mutation(() => ContactType)
  untagContact(@Ctx() ctx: GraphQLContext, @Arg("contactId", () => ID) contactId: string, @Arg("tag", () => String) tag: string): Promise<ContactType> {
    return contacts.untagContact(ctx.deps, ctx.actor, contactId, tag);
  }

  @Mutation(() => ContactType, { description: "Records a bounce; its event has source system." })
  recordBounce(@Ctx() ctx: GraphQLContext, @Arg("contactId", () => ID) contactId: string): Promise<ContactType> {
    return contacts.recordBounce(ctx.deps, ctx.actor, contactId);
  }
}
