import { IsNull, type EntityManager } from "typeorm";
import type { Actor } from "../accounts/actor.js";
import { ListEntity } from "../contacts/list.entity.js";
import { lockedRowExists, type Db } from "../db/index.js";
import { appendEvents, type EventDraft, type EventLog } from "../events/index.js";
import { isEventType } from "../events/event-types.js";
import {
  cancelQueuedDeliveries,
  generateSigningSecret,
  insertDeliveries,
  newDelivery,
  unparkDeliveries,
  DeliveryEntity,
  type HttpClient,
} from "../delivery/index.js";
import type { Clock } from "../shared/clock.js";
import { AppError, badInput, notFound } from "../shared/errors.js";
import { newId } from "../shared/ids.js";
import { verifyIntent } from "./handshake.js";
import { HookEntity } from "./hook.entity.js";
import type { CreateHookInput, HookBatchInput, UpdateHookInput } from "./hook.inputs.js";
import { validateSelection } from "./selection.js";
import { EventSourceEnum, HookOrderingEnum, HookStatusEnum, PayloadModeEnum, type HookStatsType, type HookType, type HookWithSecretType } from "./hook.types.js";

/** What hook services need. */
export interface HookDeps {
  db: Db;
  eventLog: EventLog;
  clock: Clock;
  http: HttpClient;
}

/** Longest webhook URL accepted. */
export const MAX_URL_LENGTH = 2_048;

const ALL_SOURCES = ["public", "admin", "api", "system"];

/** The GraphQL rendering of a hook (never its secret). */
export function renderHook(h: HookEntity): HookType {
  return {
    id: h.id,
    name: h.name,
    url: h.url,
    events: h.events,
    sources: h.sources.map((s) => s.toUpperCase() as EventSourceEnum),
    listId: h.listId,
    status: h.status as HookStatusEnum,
    payload: (h.payload ?? "FULL") as PayloadModeEnum,
    selection: h.selection ?? null,
    excludeOwnChanges: h.excludeOwnChanges ?? false,
    verificationError: h.verificationError,
    disabledReason: h.disabledReason,
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
    deletedAt: h.deletedAt,
    deletedReason: h.deletedReason,
    ordering: (h.ordering ?? "NONE") as HookOrderingEnum,
    batch: h.batchMaxSize !== null && h.batchMaxSize !== undefined ? { maxSize: h.batchMaxSize, maxWaitMs: h.batchMaxWaitMs ?? 0 } : null,
  };
}

/** The data of hook.* events: the hook as the API renders it, and why. */
function hookEventData(h: HookEntity, reason: string): unknown {
  return { hook: renderHook(h), reason };
}

/** Validates a webhook URL: absolute http(s), a host, no credentials, at most 2,048 characters. */
export function checkHookUrl(raw: string, field: string): string {
  const text = (raw ?? "").trim();
  const invalid = (why: string) => new AppError("HOOK_URL_INVALID", `url ${why}`, { field });
  if (text.length === 0) throw invalid("is required");
  if (text.length > MAX_URL_LENGTH) throw invalid(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid("is not an absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid("must use http or https");
  if (url.username || url.password) throw invalid("must not contain a user name or password");
  if (!url.hostname) throw invalid("must have a host");
  return url.toString();
}

/** `HOOK_URL_REJECTED` when the egress guard refuses `url` (names are resolved first). */
async function checkHookTarget(http: HttpClient, url: string, field: string): Promise<void> {
  const refused = await http.checkUrl(url);
  if (refused) throw new AppError("HOOK_URL_REJECTED", `url is refused: ${refused}`, { field });
}

function checkEvents(events: string[] | null | undefined, field: string): string[] {
  if (events === null || events === undefined) return ["*"];
  if (events.length === 0) throw badInput(field, 'events must not be empty (use ["*"] for all)');
  if (events.includes("*")) return ["*"];
  for (const e of events) if (!isEventType(e)) throw badInput(field, `unknown event type ${JSON.stringify(e)} (see eventTypes)`);
  return [...new Set(events)].sort();
}

function checkSources(sources: EventSourceEnum[] | null | undefined, field: string): string[] {
  if (sources === null || sources === undefined) return [...ALL_SOURCES];
  if (sources.length === 0) throw badInput(field, "sources must not be empty");
  return [...new Set(sources.map((s) => s.toLowerCase()))].sort();
}

function checkPayload(payload: PayloadModeEnum | null | undefined, field: string): "FULL" | "SKINNY" {
  if (payload === null || payload === undefined) return "FULL";
  if (payload !== "FULL" && payload !== "SKINNY") throw badInput(field, "payload must be FULL or SKINNY");
  return payload;
}

/** A stored selection (validated, trimmed), or null for none. */
async function checkSelection(selection: string | null | undefined, field: string): Promise<string | null> {
  if (selection === null || selection === undefined || selection.trim() === "") return null;
  return validateSelection(selection, field);
}

function checkName(name: string | null | undefined, field: string): string | null {
  if (name === null || name === undefined) return null;
  const text = name.trim();
  if (text.length > 200) throw badInput(field, "name must be at most 200 characters");
  return text || null;
}

/** Most envelopes per batch. */
export const MAX_BATCH_SIZE = 1_000;
/** Longest batch wait: 1 h. Default 1 s. */
export const MAX_BATCH_WAIT_MS = 3_600_000;
export const DEFAULT_BATCH_WAIT_MS = 1_000;

/** Validates batching: `{ maxSize: 1..1000, maxWaitMs: 0..3600000 (default 1000) }`; null = no batching. */
export function checkBatch(batch: HookBatchInput | null | undefined, field: string): { batchMaxSize: number | null; batchMaxWaitMs: number | null } {
  if (batch === null || batch === undefined) return { batchMaxSize: null, batchMaxWaitMs: null };
  const { maxSize } = batch;
  const maxWaitMs = batch.maxWaitMs ?? DEFAULT_BATCH_WAIT_MS;
  if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > MAX_BATCH_SIZE) throw badInput(`${field}.maxSize`, `batch.maxSize must be between 1 and ${MAX_BATCH_SIZE}`);
  if (!Number.isInteger(maxWaitMs) || maxWaitMs < 0 || maxWaitMs > MAX_BATCH_WAIT_MS) throw badInput(`${field}.maxWaitMs`, `batch.maxWaitMs must be between 0 and ${MAX_BATCH_WAIT_MS} (1 hour)`);
  return { batchMaxSize: maxSize, batchMaxWaitMs: maxWaitMs };
}

async function checkList(m: EntityManager, actor: Actor, listId: string | null | undefined, field: string): Promise<string | null> {
  if (!listId) return null;
  const list = await m.findOne(ListEntity, { where: { id: listId, accountId: actor.accountId } });
  if (!list) throw notFound("list", listId, field);
  return list.id;
}

/** A live (not deleted) hook of the caller's account, or NOT_FOUND. */
export async function findHook(m: EntityManager, actor: Actor, id: string, field = "id"): Promise<HookEntity> {
  const hook = await m.findOne(HookEntity, { where: { id, accountId: actor.accountId, deletedAt: IsNull() } });
  if (!hook) throw notFound("hook", id, field);
  return hook;
}

/** Runs the handshake for a hook and records the result; returns the hook as it is afterwards. */
async function runHandshake(deps: HookDeps, hook: HookEntity): Promise<HookEntity> {
  const result = await verifyIntent(deps.http, hook.url, hook.id, deps.clock.now());
  return deps.db.write(async (m) => {
    const current = await m.findOne(HookEntity, { where: { id: hook.id, deletedAt: IsNull() } });
    // Deleted, or its URL changed meanwhile (a newer handshake decides): leave it.
    if (!current || current.url !== hook.url || current.status !== "PENDING_VERIFICATION") return current ?? hook;
    const now = deps.clock.now();
    if (result.ok) {
      Object.assign(current, { status: "ACTIVE", verificationError: null, verifiedAt: now, activeSince: now, updatedAt: now });
    } else {
      Object.assign(current, { verificationError: result.reason.slice(0, 500), updatedAt: now });
    }
    await m.save(HookEntity, current);
    return current;
  });
}

/**
 * Creates a hook, then verifies intent (handshake): the hook is ACTIVE when the receiver echoed
 * `X-Hook-Secret`, else PENDING_VERIFICATION with `verificationError`. The signing secret is
 * returned here and never again.
 */
export async function createHook(deps: HookDeps, actor: Actor, input: CreateHookInput): Promise<HookWithSecretType> {
  const url = checkHookUrl(input.url, "input.url");
  await checkHookTarget(deps.http, url, "input.url");
  const events = checkEvents(input.events, "input.events");
  const sources = checkSources(input.sources, "input.sources");
  const name = checkName(input.name, "input.name");
  const payload = checkPayload(input.payload, "input.payload");
  const selection = await checkSelection(input.selection, "input.selection");
  const excludeOwnChanges = input.excludeOwnChanges ?? false;
  const batching = checkBatch(input.batch, "input.batch");
  const ordering = input.ordering ?? HookOrderingEnum.NONE;
  const secret = generateSigningSecret();
  const hook = await deps.db.write(async (m) => {
    const listId = await checkList(m, actor, input.listId, "input.listId");
    const now = deps.clock.now();
    const h = Object.assign(new HookEntity(), {
      id: newId("hook", now.getTime()),
      accountId: actor.accountId,
      name,
      url,
      events,
      sources,
      listId,
      payload,
      selection,
      excludeOwnChanges,
      status: "PENDING_VERIFICATION",
      signingSecret: secret,
      previousSecret: null,
      previousSecretExpiresAt: null,
      verificationError: null,
      verifiedAt: null,
      activeSince: null,
      createdByKeyId: actor.apiKeyId,
      lastDeliveredAt: null,
      lastFailureAt: null,
      lastError: null,
      consecutiveFailures: 0,
      failingSince: null,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      deletedReason: null,
      ordering,
      ...batching,
    });
    await m.insert(HookEntity, h as never);
    return h;
  }, { committed: (m, h: HookEntity) => lockedRowExists(m, "hooks", h.id) });
  return { hook: renderHook(await runHandshake(deps, hook)), secret };
}

/** Updates a hook's filters or URL; a new URL sends the hook through verification again. */
export async function updateHook(deps: HookDeps, actor: Actor, id: string, input: UpdateHookInput): Promise<HookType> {
  const url = input.url !== undefined && input.url !== null ? checkHookUrl(input.url, "input.url") : undefined;
  if (url !== undefined) await checkHookTarget(deps.http, url, "input.url");
  const events = input.events !== undefined && input.events !== null ? checkEvents(input.events, "input.events") : undefined;
  const sources = input.sources !== undefined && input.sources !== null ? checkSources(input.sources, "input.sources") : undefined;
  const name = input.name !== undefined ? checkName(input.name, "input.name") : undefined;
  const payload = input.payload !== undefined && input.payload !== null ? checkPayload(input.payload, "input.payload") : undefined;
  const selection = input.selection !== undefined ? await checkSelection(input.selection, "input.selection") : undefined;
  const batching = input.batch !== undefined ? checkBatch(input.batch, "input.batch") : undefined;
  const { hook, urlChanged } = await deps.db.write(async (m) => {
    const h = await findHook(m, actor, id);
    const now = deps.clock.now();
    const urlChanged = url !== undefined && url !== h.url;
    if (input.listId !== undefined) h.listId = await checkList(m, actor, input.listId, "input.listId");
    if (events) h.events = events;
    if (sources) h.sources = sources;
    if (name !== undefined) h.name = name;
    if (payload !== undefined) h.payload = payload;
    if (selection !== undefined) h.selection = selection;
    if (input.excludeOwnChanges !== undefined && input.excludeOwnChanges !== null) h.excludeOwnChanges = input.excludeOwnChanges;
    if (input.ordering) h.ordering = input.ordering;
    if (batching) {
      Object.assign(h, batching);
      // Queued rows not yet sent in a batch follow the new setting; a sealed batch stays one.
      await m.update(DeliveryEntity, { hookId: h.id, queued: true, batchId: IsNull() } as never, { batched: batching.batchMaxSize !== null } as never);
    }
    if (urlChanged) Object.assign(h, { url, status: "PENDING_VERIFICATION", verificationError: null, verifiedAt: null });
    h.updatedAt = now;
    await m.save(HookEntity, h);
    return { hook: h, urlChanged };
  });
  return renderHook(urlChanged ? await runHandshake(deps, hook) : hook);
}

/** Tries the handshake again for a hook waiting for verification. */
export async function verifyHook(deps: HookDeps, actor: Actor, id: string): Promise<HookType> {
  const hook = await deps.db.read((m) => findHook(m, actor, id));
  if (hook.status !== "PENDING_VERIFICATION") {
    throw new AppError("HOOK_NOT_VERIFIABLE", `hook is ${hook.status}; only PENDING_VERIFICATION hooks are verified`, { field: "id" });
  }
  return renderHook(await runHandshake(deps, hook));
}

/**
 * Deletes a hook inside `m`: soft delete (history stays queryable), queued deliveries cancelled,
 * a `hook.deleted` event appended. Used by deleteHook and by the dispatcher on 410 Gone.
 */
export async function deleteHookIn(m: EntityManager, hook: HookEntity, reason: string, source: EventDraft["source"], actorKeyId: string | null, now: Date) {
  Object.assign(hook, { deletedAt: now, deletedReason: reason.slice(0, 500), updatedAt: now });
  // Conditional: `hook` may have been read before another transaction (a second outcome batch
  // with its own 410, a concurrent deleteHook) deleted it; that one wrote the event.
  const result = await m.update(HookEntity, { id: hook.id, deletedAt: IsNull() }, { deletedAt: now, deletedReason: hook.deletedReason, updatedAt: now });
  if (!result.affected) return [];
  await cancelQueuedDeliveries(m, hook.id, now);
  return appendEvents(m, hook.accountId, [{ type: "hook.deleted", source, data: hookEventData(hook, reason), actorKeyId }], now);
}

/**
 * Disables a hook inside `m` (every attempt failed for too long) and appends `hook.disabled`.
 */
export async function disableHookIn(m: EntityManager, hook: HookEntity, reason: string, now: Date) {
  Object.assign(hook, { status: "DISABLED", disabledReason: reason.slice(0, 500), updatedAt: now });
  // Conditional: two outcome batches are written at once, and both may have read the hook as
  // ACTIVE; only the one that changes the row appends hook.disabled.
  const result = await m.update(HookEntity, { id: hook.id, status: "ACTIVE", deletedAt: IsNull() }, { status: "DISABLED", disabledReason: hook.disabledReason, updatedAt: now });
  if (!result.affected) return [];
  return appendEvents(m, hook.accountId, [{ type: "hook.disabled", source: "system", data: hookEventData(hook, reason) }], now);
}

/** deleteHook: removes the hook and cancels what it still had queued. */
export async function deleteHook(deps: HookDeps, actor: Actor, id: string): Promise<boolean> {
  await deps.eventLog.change(actor.accountId, async (change) => {
    const hook = await findHook(change.manager, actor, id);
    await deleteHookIn(change.manager, hook, "deleted through the API", actor.source, actor.apiKeyId, change.now);
  });
  return true;
}

/** pauseHook: events keep being queued for the hook but nothing is sent until resumeHook. */
export async function pauseHook(deps: HookDeps, actor: Actor, id: string): Promise<HookType> {
  return deps.db.write(async (m) => {
    const hook = await findHook(m, actor, id);
    if (hook.status === "PENDING_VERIFICATION") throw new AppError("HOOK_NOT_VERIFIABLE", "a hook waiting for verification cannot be paused", { field: "id" });
    if (hook.status !== "PAUSED") {
      Object.assign(hook, { status: "PAUSED", updatedAt: deps.clock.now() });
      await m.save(HookEntity, hook);
    }
    return renderHook(hook);
  });
}

/** resumeHook: a paused or disabled hook becomes ACTIVE; what was parked is sent now. */
export async function resumeHook(deps: HookDeps, actor: Actor, id: string): Promise<HookType> {
  return deps.db.write(async (m) => {
    const hook = await findHook(m, actor, id);
    if (hook.status === "PENDING_VERIFICATION") throw new AppError("HOOK_NOT_VERIFIABLE", "a hook waiting for verification is resumed by verifyHook", { field: "id" });
    const now = deps.clock.now();
    if (hook.status === "DISABLED") {
      // A disabled hook received nothing meanwhile: it starts again from now.
      Object.assign(hook, { activeSince: now, disabledReason: null });
    }
    Object.assign(hook, { status: "ACTIVE", consecutiveFailures: 0, failingSince: null, updatedAt: now });
    await m.save(HookEntity, hook);
    await unparkDeliveries(m, hook.id, now);
    return renderHook(hook);
  });
}

/** pingHook: sends a `hook.ping` event to this hook only; returns the delivery's id. */
export async function pingHook(deps: HookDeps, actor: Actor, id: string): Promise<string> {
  const { result } = await deps.eventLog.change(actor.accountId, async (change) => {
    const hook = await findHook(change.manager, actor, id);
    if (hook.status === "PENDING_VERIFICATION") throw new AppError("HOOK_NOT_VERIFIABLE", "verify the hook before pinging it", { field: "id" });
    const [event] = await appendEvents(
      change.manager,
      actor.accountId,
      [{ type: "hook.ping", source: actor.source, data: { hook: { id: hook.id, name: hook.name, url: hook.url } }, actorKeyId: actor.apiKeyId, fanout: false }],
      change.now,
    );
    const delivery = newDelivery({ accountId: actor.accountId, hookId: hook.id, eventId: event.id, eventSequence: event.sequence, now: change.now });
    await insertDeliveries(change.manager, [delivery]);
    return delivery.id;
  });
  return result;
}

/** Default grace period of rotateHookSecret: 24 h. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;

/**
 * rotateHookSecret: a new signing secret, returned once. Until the grace period ends (default
 * 24 h; 0 ends it at once) deliveries carry signatures by both the new and the old secret, so
 * the receiver can switch without dropping a webhook.
 */
export async function rotateHookSecret(deps: HookDeps, actor: Actor, id: string, graceSeconds: number = DEFAULT_ROTATION_GRACE_SECONDS): Promise<HookWithSecretType> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 30 * 86_400) {
    throw badInput("gracePeriodSeconds", "gracePeriodSeconds must be between 0 and 2592000 (30 days)");
  }
  const secret = generateSigningSecret();
  const hook = await deps.db.write(async (m) => {
    const h = await findHook(m, actor, id);
    const now = deps.clock.now();
    Object.assign(h, {
      previousSecret: graceSeconds > 0 ? h.signingSecret : null,
      previousSecretExpiresAt: graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1_000) : null,
      signingSecret: secret,
      updatedAt: now,
    });
    await m.save(HookEntity, h);
    return h;
  });
  return { hook: renderHook(hook), secret };
}

/** One live hook of the caller's account. */
export async function getHook(deps: HookDeps, actor: Actor, id: string): Promise<HookType> {
  return renderHook(await deps.db.read((m) => findHook(m, actor, id)));
}

/** The caller's live hooks, oldest first. */
export async function listHooks(deps: HookDeps, actor: Actor): Promise<HookType[]> {
  const hooks = await deps.db.read((m) => m.find(HookEntity, { where: { accountId: actor.accountId, deletedAt: IsNull() }, order: { id: "ASC" } }));
  return hooks.map(renderHook);
}

/** Delivery counts by state plus the hook's health fields. */
export async function hookStats(deps: { db: Db }, hookId: string): Promise<HookStatsType> {
  return deps.db.read(async (m) => {
    const hook = await m.findOne(HookEntity, { where: { id: hookId } });
    const rows: Array<{ status: string; n: string | number }> = await m
      .createQueryBuilder(DeliveryEntity, "d")
      .select("d.status", "status")
      .addSelect("COUNT(*)", "n")
      .where("d.hook_id = :hookId", { hookId })
      .groupBy("d.status")
      .getRawMany();
    const count = (...statuses: string[]) => rows.filter((r) => statuses.includes(r.status)).reduce((sum, r) => sum + Number(r.n), 0);
    return {
      delivered: count("DELIVERED"),
      failed: count("FAILED"),
      pending: count("PENDING", "DELIVERING"),
      dead: count("DEAD"),
      lastDeliveredAt: hook?.lastDeliveredAt ?? null,
      lastFailureAt: hook?.lastFailureAt ?? null,
      lastError: hook?.lastError ?? null,
      consecutiveFailures: hook?.consecutiveFailures ?? 0,
    };
  });
}
