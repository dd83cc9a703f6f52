import type { GraphQLSchema } from "graphql";
import { toEnvelope, type EventEnvelope } from "../events/envelope.js";
import type { EventEntity } from "../events/event.entity.js";
import type { HookEntity } from "../hooks/hook.entity.js";
import { applySelection, compileSelection, loadSelectionSchema } from "../hooks/selection.js";

/** The hook fields that shape a payload. */
export type PayloadShape = Pick<HookEntity, "payload" | "selection">;

/** What shaping needs besides the event and the hook. */
export interface PayloadContext {
  /** Base URL of the API, for skinny payloads' `fetch.url`. */
  readonly publicUrl: string;
  /** The snapshot schema selections run on (see `hooks/selection.ts`). */
  readonly selectionSchema: GraphQLSchema;
}

/** Every field of `Contact` held by event snapshots: the fetch query of a skinny payload without a selection. */
export const FULL_CONTACT_SELECTION =
  "{ id email firstName lastName phone fields tags lists { list { id name createdAt } status subscribedAt unsubscribedAt } bounceCount bouncedAt createdAt updatedAt }";

/** The one GraphQL request a skinny payload's receiver sends (with its own API key) to read the resource. */
export interface FetchRequest {
  url: string;
  query: string;
  variables: Record<string, unknown>;
}

/** A webhook envelope as a hook receives it: `data` shaped by the hook, `fetch` on skinny payloads. */
export type HookEnvelope = Omit<EventEnvelope, "data"> & { data: unknown; fetch?: FetchRequest };

/** Builds the context once per dispatch round (the schema is built once per process). */
export async function payloadContext(publicUrl: string): Promise<PayloadContext> {
  return { publicUrl: publicUrl.replace(/\/+$/, ""), selectionSchema: await loadSelectionSchema() };
}

/** True for events whose `data` is a Contact snapshot: the ones a hook's payload options shape. */
export function isContactEvent(event: Pick<EventEntity, "type">): boolean {
  return event.type.startsWith("contact.");
}

/**
 * The envelope of `event` for a hook. Contact events are shaped by the hook: with a `selection`,
 * `data` is exactly the selected fields of the event's snapshot (computed with graphql-js over
 * the stored data, never the current row); with `payload: SKINNY`, `data` is
 * `{ id, __typename: "Contact" }` and `fetch` is the GraphQL request that reads the contact (its
 * current state; with the selection as the query's selection set). Other events (lists, hook
 * lifecycle, pings) are small and always sent in full. Without a hook, the FULL envelope.
 */
export function hookEnvelope(event: EventEntity, hook?: PayloadShape | null, context?: PayloadContext | null): HookEnvelope {
  const envelope: HookEnvelope = toEnvelope(event);
  if (!hook || !context || !isContactEvent(event)) return envelope;
  const snapshot = event.data as { id?: unknown } | null;
  if (hook.payload === "SKINNY") {
    const id = snapshot?.id ?? null;
    envelope.data = { id, __typename: "Contact" };
    envelope.fetch = {
      url: `${context.publicUrl}/graphql`,
      query: `query HookcastFetch($id: ID!) { contact(id: $id) ${hook.selection ?? FULL_CONTACT_SELECTION} }`,
      variables: { id },
    };
    return envelope;
  }
  if (hook.selection) envelope.data = applySelection(context.selectionSchema, compileSelection(hook.selection), snapshot);
  return envelope;
}

/** The webhook body: {@link hookEnvelope} as JSON. */
export function webhookBody(event: EventEntity, hook?: PayloadShape | null, context?: PayloadContext | null): string {
  return JSON.stringify(hookEnvelope(event, hook, context));
}

/**
 * The body of a batch: `{"batch":[…]}` with each member's webhook body, in sequence order. The
 * members' bodies are spliced in as they are, so a batch carries exactly what the receiver would
 * get one by one.
 */
export function batchBody(bodies: readonly string[]): string {
  return `{"batch":[${bodies.join(",")}]}`;
}

/** A key telling apart hooks that get different bodies for one event (bodies are cached per event and key). */
export function payloadKey(hook: PayloadShape): string {
  return `${hook.payload ?? "FULL"}\u0000${hook.selection ?? ""}`;
}
