import { Ctx, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../server/context.js";
import { getAccount } from "./account.service.js";
import { AccountType } from "./account.types.js";

@Resolver()
export class AccountResolver {
  @Query(() => AccountType, { description: "The caller's account." })
  me(@Ctx() ctx: GraphQLContext): Promise<AccountType> {
    return getAccount(ctx.deps.db, ctx.actor);
  }
}
