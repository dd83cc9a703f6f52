import type { Actor } from "../accounts/actor.js";
import { publicActor } from "../accounts/actor.js";
import { IsNull } from "typeorm";
import type { Db } from "../db/index.js";
import { randomToken } from "../shared/ids.js";
import { AppError } from "../shared/errors.js";
import { ContactEntity } from "./contact.entity.js";
import { createContact, subscribeContact, unsubscribeContact, type ContactDeps } from "./contact.service.js";
import { ListEntity, ListMembershipEntity } from "./list.entity.js";
import { LIMITS, checkEmail, checkText } from "./validate.js";

/** Shape of public tokens (list forms, unsubscribe links): base64url, as `randomToken` makes them. */
const TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

/** `NOT_FOUND` for a public token, worded without echoing it. */
function unknownToken(kind: "form" | "unsubscribe link"): AppError {
  return new AppError("NOT_FOUND", `this ${kind} does not exist (or no longer exists)`, { field: "token" });
}

/** The list whose public form token is `token`, or null. */
export async function findListByPublicToken(db: Db, token: string): Promise<ListEntity | null> {
  if (!TOKEN.test(token)) return null;
  return db.read((m) => m.findOne(ListEntity, { where: { publicToken: token } }));
}

/** Input of the public subscribe form. */
export interface PublicSubscribeInput {
  email?: unknown;
  firstName?: unknown;
  lastName?: unknown;
}

/**
 * The public subscribe form of a list: creates the contact (with the names, when it is new) or
 * finds it by email, and subscribes it to the list. Events carry source `public` and no API
 * key. An existing contact's names are never changed from a public form (anyone can post it),
 * and the answer is the same whether the email was known or not (no address enumeration).
 * `NOT_FOUND` for an unknown token, `BAD_USER_INPUT` (field `email`, `firstName`, `lastName`).
 */
export async function publicSubscribe(deps: ContactDeps, token: string, input: PublicSubscribeInput): Promise<{ list: ListEntity }> {
  const list = await findListByPublicToken(deps.db, token);
  if (!list) throw unknownToken("form");
  const email = checkEmail(typeof input.email === "string" ? input.email : "", "email");
  const firstName = checkText(stringOrNull(input.firstName), "firstName", LIMITS.name);
  const lastName = checkText(stringOrNull(input.lastName), "lastName", LIMITS.name);
  const actor = publicActor(list.accountId);
  let contactId = await findContactIdByEmail(deps.db, actor, email);
  if (!contactId) {
    try {
      contactId = (await createContact(deps, actor, { email, firstName, lastName })).id;
    } catch (error) {
      // Two submissions of one address at once: the other one created it.
      if (!(error instanceof AppError && error.code === "CONTACT_EXISTS")) throw error;
      contactId = await findContactIdByEmail(deps.db, actor, email);
      if (!contactId) throw error;
    }
  }
  await subscribeContact(deps, actor, contactId, list.id);
  return { list };
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

async function findContactIdByEmail(db: Db, actor: Actor, email: string): Promise<string | null> {
  const row = await db.read((m) => m.findOne(ContactEntity, { where: { accountId: actor.accountId, emailKey: email.toLowerCase() }, select: { id: true } }));
  return row?.id ?? null;
}

/** What an unsubscribe link shows: the contact's address and its lists. */
export interface UnsubscribeTarget {
  contactId: string;
  accountId: string;
  email: string;
  lists: Array<{ id: string; name: string; subscribed: boolean }>;
}

/** The contact of an unsubscribe token and its list memberships; `NOT_FOUND` for an unknown token. */
export async function findUnsubscribeTarget(db: Db, token: string): Promise<UnsubscribeTarget> {
  if (!TOKEN.test(token)) throw unknownToken("unsubscribe link");
  return db.read(async (m) => {
    const contact = await m.findOne(ContactEntity, { where: { unsubscribeToken: token } });
    if (!contact) throw unknownToken("unsubscribe link");
    const memberships = await m.find(ListMembershipEntity, { where: { accountId: contact.accountId, contactId: contact.id } });
    const lists = memberships.length ? await m.find(ListEntity, { where: { accountId: contact.accountId } }) : [];
    const nameOf = new Map(lists.map((l) => [l.id, l.name]));
    return {
      contactId: contact.id,
      accountId: contact.accountId,
      email: contact.email,
      lists: memberships
        .filter((x) => nameOf.has(x.listId))
        .sort((a, b) => (a.listId < b.listId ? -1 : 1))
        .map((x) => ({ id: x.listId, name: nameOf.get(x.listId)!, subscribed: x.status === "SUBSCRIBED" })),
    };
  });
}

/**
 * The unsubscribe link's POST: unsubscribes the contact from `listId` (one of its lists), or
 * from every list it is subscribed to. One `contact.unsubscribed` event (source `public`) per
 * list left; idempotent. Returns the ids of the lists left by this call.
 */
export async function publicUnsubscribe(deps: ContactDeps, token: string, listId: string | null): Promise<{ target: UnsubscribeTarget; unsubscribed: string[] }> {
  const target = await findUnsubscribeTarget(deps.db, token);
  if (listId !== null && !target.lists.some((l) => l.id === listId)) throw new AppError("NOT_FOUND", "the contact is not on this list", { field: "list" });
  const actor = publicActor(target.accountId);
  const unsubscribed: string[] = [];
  for (const list of target.lists) {
    if (!list.subscribed || (listId !== null && list.id !== listId)) continue;
    const after = await unsubscribeContact(deps, actor, target.contactId, list.id);
    if (after.lists.some((x) => x.list.id === list.id && x.status === "UNSUBSCRIBED")) unsubscribed.push(list.id);
  }
  return { target: await findUnsubscribeTarget(deps.db, token), unsubscribed };
}

/** The public token of a list of the caller's account (for `List.publicToken`); one is assigned if the row has none. */
export async function listPublicToken(db: Db, actor: Actor, listId: string): Promise<string | null> {
  return ensureToken(db, ListEntity, "publicToken", actor, listId);
}

/** The unsubscribe token of a contact of the caller's account (for `Contact.unsubscribeToken`); one is assigned if the row has none. */
export async function contactUnsubscribeToken(db: Db, actor: Actor, contactId: string): Promise<string | null> {
  return ensureToken(db, ContactEntity, "unsubscribeToken", actor, contactId);
}

async function ensureToken(db: Db, entity: typeof ListEntity | typeof ContactEntity, column: "publicToken" | "unsubscribeToken", actor: Actor, id: string): Promise<string | null> {
  const read = () => db.read((m) => m.findOne(entity, { where: { id, accountId: actor.accountId } })) as Promise<Record<string, unknown> | null>;
  const row = await read();
  if (!row) return null;
  if (typeof row[column] === "string") return row[column] as string;
  // Rows written without a token (by code older than migration 0004's backfill): assign one,
  // once; a concurrent caller's token wins and both read it back.
  await db.write((m) => m.update(entity, { id, accountId: actor.accountId, [column]: IsNull() } as never, { [column]: randomToken(24) } as never));
  return ((await read())?.[column] as string | undefined) ?? null;
}
