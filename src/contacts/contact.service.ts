import { type EntityManager } from "typeorm";
import type { Actor } from "../accounts/actor.js";
import { insertRows, isDuplicateKey, type Db } from "../db/index.js";
import type { EventLog } from "../events/event-log.js";
import type { EventType } from "../events/event-types.js";
import { AppError, badInput, notFound } from "../shared/errors.js";
import { decodeCursor, encodeCursor } from "../shared/cursor.js";
import { newId, randomToken } from "../shared/ids.js";
import { ContactEntity, ContactTagEntity } from "./contact.entity.js";
import type { ContactFilter, CreateContactInput, CreateListInput, UpdateContactInput } from "./contact.inputs.js";
import type { ContactType, ListType } from "./contact.types.js";
import { ListEntity, ListMembershipEntity } from "./list.entity.js";
import { renderContact, renderContacts, renderList } from "./render-contact.js";
import { LIMITS, checkEmail, checkFields, checkTag, checkText } from "./validate.js";

/** What contact services need. */
export interface ContactDeps {
  db: Db;
  eventLog: EventLog;
}

function contactExists(email: string): AppError {
  return new AppError("CONTACT_EXISTS", `a contact with email ${JSON.stringify(email)} already exists`, { field: "input.email" });
}

/**
 * True when `error` violates the per-account email index (MySQL names the key, SQLite its
 * columns). Any other duplicate key inside a contact change is a bug, not CONTACT_EXISTS.
 */
function isEmailTaken(error: unknown): boolean {
  return violates(error, /uq_contacts_email|contacts\.email_key/);
}

/** True when `error` is a duplicate key on the index that `key` matches (name on MySQL, columns on SQLite). */
function violates(error: unknown, key: RegExp): boolean {
  if (!isDuplicateKey(error)) return false;
  const e = error as { message?: string; driverError?: { message?: string; sqlMessage?: string } };
  return key.test(`${e.message ?? ""} ${e.driverError?.sqlMessage ?? ""} ${e.driverError?.message ?? ""}`);
}

async function findContact(m: EntityManager, actor: Actor, id: string, field = "id"): Promise<ContactEntity> {
  const contact = await m.findOne(ContactEntity, { where: { id, accountId: actor.accountId } });
  if (!contact) throw notFound("contact", id, field);
  return contact;
}

/**
 * {@link findContact} for a change: on MySQL the row is locked (`SELECT … FOR UPDATE`) until
 * commit, so concurrent changes to one contact run one after the other. Without it, two
 * READ COMMITTED writers both read the old row: bounce counts are lost, the second identical tag
 * or subscription hits a duplicate key, and an event's snapshot can miss a change committed just
 * before it. (SQLite transactions are serialized already.)
 */
async function lockContact(m: EntityManager, actor: Actor, id: string, field = "id"): Promise<ContactEntity> {
  if (m.connection.options.type === "better-sqlite3") return findContact(m, actor, id, field);
  const contact = await m.findOne(ContactEntity, { where: { id, accountId: actor.accountId }, lock: { mode: "pessimistic_write" } });
  if (!contact) throw notFound("contact", id, field);
  return contact;
}

async function findList(m: EntityManager, actor: Actor, id: string, field = "listId"): Promise<ListEntity> {
  const list = await m.findOne(ListEntity, { where: { id, accountId: actor.accountId } });
  if (!list) throw notFound("list", id, field);
  return list;
}

/**
 * Runs a change to one contact and appends its event with the contact's rendering after the
 * change. `mutate` returns false when nothing changed: then no event is written.
 */
async function changeContact(
  deps: ContactDeps,
  actor: Actor,
  type: EventType,
  mutate: (m: EntityManager, now: Date) => Promise<{ contact: ContactEntity; changed: boolean; created?: boolean; listId?: string; tag?: string }>,
): Promise<ContactType> {
  const { result } = await deps.eventLog.change(actor.accountId, async (change) => {
    const { contact, changed, created, listId, tag } = await mutate(change.manager, change.now);
    if (changed && contact.updatedAt.getTime() !== change.now.getTime()) {
      contact.updatedAt = change.now;
      await change.manager.update(ContactEntity, { id: contact.id }, { updatedAt: change.now });
    }
    const view = await renderContact(change.manager, contact, { created });
    if (changed) {
      change.append({ type, source: actor.source, data: view, contactId: contact.id, listId, tag, actorKeyId: actor.apiKeyId });
    }
    return view;
  });
  return result;
}

/** Creates a contact; appends `contact.created`. `CONTACT_EXISTS` when the email is taken. */
export async function createContact(deps: ContactDeps, actor: Actor, input: CreateContactInput): Promise<ContactType> {
  const email = checkEmail(input.email ?? "", "input.email");
  const firstName = checkText(input.firstName, "input.firstName", LIMITS.name);
  const lastName = checkText(input.lastName, "input.lastName", LIMITS.name);
  const phone = checkText(input.phone, "input.phone", LIMITS.phone);
  const fields = checkFields(input.fields, "input.fields");
  try {
    return await changeContact(deps, actor, "contact.created", async (m, now) => {
      const contact = Object.assign(new ContactEntity(), {
        id: newId("con", now.getTime()),
        accountId: actor.accountId,
        email,
        emailKey: email.toLowerCase(),
        firstName,
        lastName,
        phone,
        fields,
        unsubscribeToken: randomToken(24),
        bounceCount: 0,
        bouncedAt: null,
        createdAt: now,
        updatedAt: now,
      });
      await insertRows(m, ContactEntity, [contact]);
      return { contact, changed: true, created: true };
    });
  } catch (error) {
    if (isEmailTaken(error)) throw contactExists(email);
    throw error;
  }
}

/** Updates a contact; appends `contact.updated` when something changed. */
export async function updateContact(deps: ContactDeps, actor: Actor, id: string, input: UpdateContactInput): Promise<ContactType> {
  const patch: Partial<ContactEntity> = {};
  if (input.email !== undefined) {
    if (input.email === null) throw badInput("input.email", "email cannot be cleared");
    patch.email = checkEmail(input.email, "input.email");
    patch.emailKey = patch.email.toLowerCase();
  }
  if (input.firstName !== undefined) patch.firstName = checkText(input.firstName, "input.firstName", LIMITS.name);
  if (input.lastName !== undefined) patch.lastName = checkText(input.lastName, "input.lastName", LIMITS.name);
  if (input.phone !== undefined) patch.phone = checkText(input.phone, "input.phone", LIMITS.phone);
  if (input.fields !== undefined) patch.fields = checkFields(input.fields, "input.fields");
  try {
    return await changeContact(deps, actor, "contact.updated", async (m) => {
      const contact = await lockContact(m, actor, id);
      const changes = Object.entries(patch).filter(([k, v]) => canonicalJson((contact as never)[k]) !== canonicalJson(v));
      if (changes.length === 0) return { contact, changed: false };
      Object.assign(contact, Object.fromEntries(changes));
      await m.update(ContactEntity, { id: contact.id }, Object.fromEntries(changes));
      return { contact, changed: true };
    });
  } catch (error) {
    if (patch.email !== undefined && isEmailTaken(error)) throw contactExists(patch.email);
    throw error;
  }
}

/** JSON with object keys sorted, so that `fields` with the same content in another key order compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])) : v,
  );
}

/** Deletes a contact with its tags and memberships; appends `contact.deleted` with the contact as it was. */
export async function deleteContact(deps: ContactDeps, actor: Actor, id: string): Promise<boolean> {
  await deps.eventLog.change(actor.accountId, async (change) => {
    const m = change.manager;
    const contact = await lockContact(m, actor, id);
    const view = await renderContact(m, contact);
    await m.delete(ContactTagEntity, { contactId: contact.id, accountId: actor.accountId });
    await m.delete(ListMembershipEntity, { contactId: contact.id, accountId: actor.accountId });
    await m.delete(ContactEntity, { id: contact.id, accountId: actor.accountId });
    change.append({ type: "contact.deleted", source: actor.source, data: view, contactId: contact.id, actorKeyId: actor.apiKeyId });
  });
  return true;
}

/** Subscribes a contact to a list (idempotent); appends `contact.subscribed` when it was not subscribed. */
export async function subscribeContact(deps: ContactDeps, actor: Actor, contactId: string, listId: string): Promise<ContactType> {
  return changeContact(deps, actor, "contact.subscribed", async (m, now) => {
    const contact = await lockContact(m, actor, contactId, "contactId");
    await findList(m, actor, listId);
    const existing = await m.findOne(ListMembershipEntity, { where: { contactId, listId } });
    if (existing?.status === "SUBSCRIBED") return { contact, changed: false };
    if (existing) {
      await m.update(ListMembershipEntity, { contactId, listId }, { status: "SUBSCRIBED", subscribedAt: now, unsubscribedAt: null });
    } else {
      await insertRows(m, ListMembershipEntity, [{ contactId, listId, accountId: actor.accountId, status: "SUBSCRIBED", subscribedAt: now, unsubscribedAt: null }]);
    }
    return { contact, changed: true, listId };
  });
}

/** Unsubscribes a contact from a list (idempotent); appends `contact.unsubscribed` when it was subscribed. */
export async function unsubscribeContact(deps: ContactDeps, actor: Actor, contactId: string, listId: string): Promise<ContactType> {
  return changeContact(deps, actor, "contact.unsubscribed", async (m, now) => {
    const contact = await lockContact(m, actor, contactId, "contactId");
    await findList(m, actor, listId);
    const existing = await m.findOne(ListMembershipEntity, { where: { contactId, listId } });
    if (existing?.status !== "SUBSCRIBED") return { contact, changed: false };
    await m.update(ListMembershipEntity, { contactId, listId }, { status: "UNSUBSCRIBED", unsubscribedAt: now });
    return { contact, changed: true, listId };
  });
}

/** Adds a tag (idempotent); appends `contact.tag_added` when the contact did not have it. */
export async function tagContact(deps: ContactDeps, actor: Actor, contactId: string, rawTag: string): Promise<ContactType> {
  const tag = checkTag(rawTag, "tag");
  return changeContact(deps, actor, "contact.tag_added", async (m, now) => {
    const contact = await lockContact(m, actor, contactId, "contactId");
    if (await m.findOne(ContactTagEntity, { where: { contactId, tag } })) return { contact, changed: false };
    const count = await m.count(ContactTagEntity, { where: { contactId } });
    if (count >= LIMITS.tagsPerContact) throw badInput("tag", `a contact has at most ${LIMITS.tagsPerContact} tags`);
    await insertRows(m, ContactTagEntity, [{ contactId, tag, accountId: actor.accountId, createdAt: now }]);
    return { contact, changed: true, tag };
  });
}

/** Removes a tag (idempotent); appends `contact.tag_removed` when the contact had it. */
export async function untagContact(deps: ContactDeps, actor: Actor, contactId: string, rawTag: string): Promise<ContactType> {
  const tag = checkTag(rawTag, "tag");
  return changeContact(deps, actor, "contact.tag_removed", async (m) => {
    const contact = await lockContact(m, actor, contactId, "contactId");
    const result = await m.delete(ContactTagEntity, { contactId, tag, accountId: actor.accountId });
    return { contact, changed: (result.affected ?? 0) > 0, tag };
  });
}

/** Records a bounce; appends `contact.bounced` with source `system` (bounce processing is automatic). */
export async function recordBounce(deps: ContactDeps, actor: Actor, contactId: string): Promise<ContactType> {
  return changeContact(deps, { ...actor, source: "system" }, "contact.bounced", async (m, now) => {
    const contact = await lockContact(m, actor, contactId, "contactId");
    contact.bounceCount += 1;
    contact.bouncedAt = now;
    await m.update(ContactEntity, { id: contact.id }, { bounceCount: contact.bounceCount, bouncedAt: now });
    return { contact, changed: true };
  });
}

/** One contact of the caller's account; `NOT_FOUND` otherwise. */
export async function getContact(deps: ContactDeps, actor: Actor, id: string): Promise<ContactType> {
  return deps.db.read(async (m) => renderContact(m, await findContact(m, actor, id)));
}

/** Arguments of `contacts`. */
export interface ListContactsArgs {
  first?: number | null;
  after?: string | null;
  filter?: ContactFilter | null;
}

/** A page of contacts in id (creation) order, with cursors. */
export async function listContacts(deps: ContactDeps, actor: Actor, args: ListContactsArgs) {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) throw badInput("first", "first must be between 1 and 100");
  const after = args.after ? decodeCursor("con", args.after) : null;
  const filter = args.filter ?? {};
  return deps.db.read(async (m) => {
    const qb = m.createQueryBuilder(ContactEntity, "c").where("c.account_id = :accountId", { accountId: actor.accountId });
    if (after) qb.andWhere("c.id > :after", { after });
    if (filter.email) qb.andWhere("c.email_key = :emailKey", { emailKey: filter.email.trim().toLowerCase() });
    if (filter.listId) {
      qb.andWhere(
        "EXISTS (SELECT 1 FROM list_memberships lm WHERE lm.contact_id = c.id AND lm.account_id = :accountId AND lm.list_id = :listId AND lm.status = 'SUBSCRIBED')",
        { listId: filter.listId },
      );
    }
    if (filter.tag) {
      qb.andWhere("EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.account_id = :accountId AND ct.tag = :tag)", { tag: filter.tag.trim() });
    }
    const rows = await qb.orderBy("c.id", "ASC").take(first + 1).getMany();
    const page = rows.slice(0, first);
    const views = await renderContacts(m, actor.accountId, page);
    const edges = page.map((c) => ({ cursor: encodeCursor("con", c.id), node: views.get(c.id)! }));
    return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
  });
}

/** Creates a list; appends `list.created`. `LIST_EXISTS` when the name is taken. */
export async function createList(deps: ContactDeps, actor: Actor, input: CreateListInput): Promise<ListType> {
  const name = checkText(input.name, "input.name", LIMITS.listName);
  if (!name) throw badInput("input.name", "name is required");
  try {
    const { result } = await deps.eventLog.change(actor.accountId, async (change) => {
      const list = Object.assign(new ListEntity(), { id: newId("lst", change.now.getTime()), accountId: actor.accountId, name, publicToken: randomToken(24), createdAt: change.now });
      await insertRows(change.manager, ListEntity, [list]);
      const view = renderList(list);
      change.append({ type: "list.created", source: actor.source, data: view, listId: list.id, actorKeyId: actor.apiKeyId });
      return view;
    });
    return result;
  } catch (error) {
    if (violates(error, /uq_lists_name|lists\.name/)) throw new AppError("LIST_EXISTS", `a list named ${JSON.stringify(name)} already exists`, { field: "input.name" });
    throw error;
  }
}

/** The account's lists, by name. */
export async function listLists(deps: ContactDeps, actor: Actor): Promise<ListType[]> {
  const lists = await deps.db.read((m) => m.find(ListEntity, { where: { accountId: actor.accountId }, order: { name: "ASC" } }));
  return lists.map(renderList);
}
