import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type NonEmptyArray } from "type-graphql";
import { AccountResolver } from "../accounts/account.resolver.js";
import { ContactResolver } from "../contacts/contact.resolver.js";
import { EventResolver } from "../events/event.resolver.js";
import { DeliveryResolver } from "../delivery/delivery.resolver.js";
import { HookResolver } from "../hooks/hook.resolver.js";
import { createPubSub } from "@graphql-yoga/subscription";
import { LiveResolver } from "../realtime/live.resolver.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const RESOLVERS: NonEmptyArray<Function> = [AccountResolver, ContactResolver, EventResolver, HookResolver, DeliveryResolver, LiveResolver];

let cached: Promise<GraphQLSchema> | undefined;

/** The Hookcast GraphQL schema, built once per process from the resolvers of every part. */
export function buildHookcastSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    resolvers: RESOLVERS,
    validate: false,
    // type-graphql requires a PubSub once there are subscriptions; ours bring their own
    // `subscribe` (the live hub reads the event log), so this one never carries anything.
    pubSub: createPubSub(),
  });
  return cached;
}

/** The schema as SDL, sorted so the committed file is stable: what `schema/schema.graphql` must contain. */
export async function printHookcastSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildHookcastSchema()))}\n`;
}
