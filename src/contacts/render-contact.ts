import { In, type EntityManager } from "typeorm";
import { ContactEntity, ContactTagEntity } from "./contact.entity.js";
import { ListEntity, ListMembershipEntity } from "./list.entity.js";
import type { ContactType, ListType, MembershipStatusEnum } from "./contact.types.js";

/**
 * Renders contacts as the GraphQL `Contact` type returns them: the one rendering used both by
 * queries and by event snapshots, so that a webhook's `data` equals the API's answer.
 * Three queries for any number of contacts (no N+1); none for contacts just created
 * (`options.created`), which cannot have tags or lists yet.
 */
export async function renderContacts(m: EntityManager, accountId: string, contacts: ContactEntity[], options: { created?: boolean } = {}): Promise<Map<string, ContactType>> {
  const out = new Map<string, ContactType>();
  if (contacts.length === 0) return out;
  const ids = contacts.map((c) => c.id);
  // Contacts created in the caller's transaction have no tags and no lists yet: no queries.
  const [tags, memberships] = options.created
    ? [[], []]
    : await Promise.all([
        m.find(ContactTagEntity, { where: { accountId, contactId: In(ids) } }),
        m.find(ListMembershipEntity, { where: { accountId, contactId: In(ids) } }),
      ]);
  const listIds = [...new Set(memberships.map((x) => x.listId))];
  const lists = listIds.length ? await m.find(ListEntity, { where: { accountId, id: In(listIds) } }) : [];
  const listById = new Map(lists.map((l) => [l.id, renderList(l)]));
  // Sorted here, not by the database: MySQL's collation and SQLite's binary order differ, and
  // both drivers must render the same contact identically (code-point order).
  const tagsOf = groupBy(tags, (t) => t.contactId);
  const membershipsOf = groupBy(memberships, (x) => x.contactId);
  for (const c of contacts) {
    const view: ContactType = {
      id: c.id,
      email: c.email,
      firstName: c.firstName,
      lastName: c.lastName,
      phone: c.phone,
      fields: c.fields,
      tags: (tagsOf.get(c.id) ?? []).map((t) => t.tag).sort(),
      lists: (membershipsOf.get(c.id) ?? [])
        .filter((x) => listById.has(x.listId))
        .sort((a, b) => (a.listId < b.listId ? -1 : 1))
        .map((x) => ({
          list: listById.get(x.listId)!,
          status: x.status as MembershipStatusEnum,
          subscribedAt: x.subscribedAt,
          unsubscribedAt: x.unsubscribedAt,
        })),
      bounceCount: c.bounceCount,
      bouncedAt: c.bouncedAt,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    };
    if (c.unsubscribeToken) PRIVATE_TOKENS.set(view, c.unsubscribeToken);
    out.set(c.id, view);
  }
  return out;
}

/** One contact's rendering (see {@link renderContacts}). */
export async function renderContact(m: EntityManager, contact: ContactEntity, options: { created?: boolean } = {}): Promise<ContactType> {
  return (await renderContacts(m, contact.accountId, [contact], options)).get(contact.id)!;
}

/** A list as the GraphQL `List` type returns it. */
export function renderList(list: ListEntity): ListType {
  const view = { id: list.id, name: list.name, createdAt: list.createdAt };
  if (list.publicToken) PRIVATE_TOKENS.set(view, list.publicToken);
  return view;
}

/**
 * The token of a rendered contact (its unsubscribe token) or list (its public token), kept
 * beside the rendering rather than in it: renderings are event snapshots, and these tokens are
 * not part of event data (see `Contact.unsubscribeToken`). Undefined for objects not rendered here.
 */
export function tokenOf(view: object): string | undefined {
  return PRIVATE_TOKENS.get(view);
}

const PRIVATE_TOKENS = new WeakMap<object, string>();

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
