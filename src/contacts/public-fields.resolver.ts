import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../server/context.js";
import { notFound } from "../shared/errors.js";
import { ContactType, ListType } from "./contact.types.js";
import { contactUnsubscribeToken, listPublicToken } from "./public.service.js";
import { tokenOf } from "./render-contact.js";

/**
 * The public-facing fields of contacts and lists (tokens and the URLs built from them). They are
 * resolved beside the rendering, not part of it, so they never appear in event data.
 */
@Resolver(() => ContactType)
export class ContactPublicFieldsResolver {
  @FieldResolver(() => String, {
    description: "Token of the contact's unsubscribe link (random; a capability for this contact only). Not part of event data.",
  })
  async unsubscribeToken(@Root() contact: ContactType, @Ctx() ctx: GraphQLContext): Promise<string> {
    const token = tokenOf(contact) ?? (await contactUnsubscribeToken(ctx.deps.db, ctx.actor, contact.id));
    if (!token) throw notFound("contact", contact.id);
    return token;
  }

  @FieldResolver(() => String, {
    description: "The contact's unsubscribe link, `<HOOKCAST_PUBLIC_URL>/u/<unsubscribeToken>`: GET shows a confirmation, POST unsubscribes (RFC 8058 one-click compatible). Not part of event data.",
  })
  async unsubscribeUrl(@Root() contact: ContactType, @Ctx() ctx: GraphQLContext): Promise<string> {
    return `${ctx.deps.publicUrl()}/u/${await this.unsubscribeToken(contact, ctx)}`;
  }
}

@Resolver(() => ListType)
export class ListPublicFieldsResolver {
  @FieldResolver(() => String, { description: "Token of the list's public subscribe form (not its id). Not part of event data." })
  async publicToken(@Root() list: ListType, @Ctx() ctx: GraphQLContext): Promise<string> {
    const token = tokenOf(list) ?? (await listPublicToken(ctx.deps.db, ctx.actor, list.id));
    if (!token) throw notFound("list", list.id);
    return token;
  }

  @FieldResolver(() => String, {
    description: "The list's public subscribe form, `<HOOKCAST_PUBLIC_URL>/f/<publicToken>`: GET serves an HTML form, POST (form or JSON) subscribes. Not part of event data.",
  })
  async formUrl(@Root() list: ListType, @Ctx() ctx: GraphQLContext): Promise<string> {
    return `${ctx.deps.publicUrl()}/f/${await this.publicToken(list, ctx)}`;
  }
}
