/**
 * The event catalog: every type Hookcast emits, with the description `eventTypes` returns.
 * Names are dotted lowercase and stable (API.md); ActiveCampaign's names map onto them.
 */
export const EVENT_TYPES = {
  "contact.created": "A contact was created.",
  "contact.updated": "A contact's email, name, phone or custom fields changed (ActiveCampaign: update).",
  "contact.deleted": "A contact was deleted; data is the contact as it was.",
  "contact.subscribed": "A contact subscribed to a list; the envelope's listId names it (ActiveCampaign: subscribe).",
  "contact.unsubscribed": "A contact unsubscribed from a list; the envelope's listId names it (ActiveCampaign: unsubscribe).",
  "contact.bounced": "An email to the contact bounced (ActiveCampaign: bounce).",
  "contact.tag_added": "A tag was added to a contact; the envelope's tag names it (ActiveCampaign: contact_tag_added).",
  "contact.tag_removed": "A tag was removed from a contact; the envelope's tag names it.",
  "list.created": "A list was created; data is the list.",
  "hook.ping": "A test event sent to one hook by pingHook.",
  "hook.deleted": "A hook was deleted (by deleteHook, or by its receiver answering 410 Gone); data is the hook and the reason.",
  "hook.disabled": "A hook was disabled after every attempt failed for HOOKCAST_DISABLE_AFTER; data is the hook and the reason.",
} as const;

/** One of the catalog's event types. */
export type EventType = keyof typeof EVENT_TYPES;

/** True when `name` is in the catalog. */
export function isEventType(name: string): name is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_TYPES, name);
}
