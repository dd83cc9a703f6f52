import type { EventEntity } from "../events/event.entity.js";
import type { HookEntity } from "./hook.entity.js";

/** The event's contact snapshot lists (contact events carry `data.lists[].list.id`). */
function listIdsOf(event: EventEntity): string[] {
  const data = event.data as { lists?: Array<{ list?: { id?: string } }> } | null;
  const ids = Array.isArray(data?.lists) ? data!.lists.map((m) => m?.list?.id).filter((x): x is string => typeof x === "string") : [];
  if (event.listId) ids.push(event.listId);
  return ids;
}

/**
 * Whether `hook`'s filters select `event`: its type (or `*`), its source, and, with a list
 * filter, whether the event is about a contact of that list (membership in the snapshot, any
 * status, so an unsubscribe from the list still matches) or about the list itself. With
 * `excludeOwnChanges` (echo suppression), events caused by the API key that created the hook
 * never match, so no delivery is ever created for them (fan-out and replay alike).
 */
export function hookMatches(
  hook: Pick<HookEntity, "events" | "sources" | "listId"> & Partial<Pick<HookEntity, "excludeOwnChanges" | "createdByKeyId">>,
  event: EventEntity,
): boolean {
  if (!hook.events.includes("*") && !hook.events.includes(event.type)) return false;
  if (hook.excludeOwnChanges && hook.createdByKeyId && event.actorKeyId === hook.createdByKeyId) return false;
  if (!hook.sources.includes(event.source)) return false;
  if (hook.listId && !listIdsOf(event).includes(hook.listId)) return false;
  return true;
}
