import { createHash } from "node:crypto";
import { IsNull } from "typeorm";
import type { Db } from "../db/index.js";
import { newId, randomToken } from "../shared/ids.js";
import { badInput, notFound } from "../shared/errors.js";
import { AccountEntity } from "./account.entity.js";
import { ApiKeyEntity } from "./api-key.entity.js";
import type { Actor } from "./actor.js";

/** What `account create` prints: the new account's id and its API key (shown once). */
export interface CreatedAccount {
  accountId: string;
  apiKey: string;
}

/** SHA-256 hex of an API key: the only form in which keys are stored. */
export function hashApiKey(apiKey: string): string {
  return createHash("sha256").update(apiKey, "utf8").digest("hex");
}

/** A new API key: `hc_` + 32 random bytes, base64url. */
export function generateApiKey(): string {
  return `hc_${randomToken(32)}`;
}

/** Creates an account with one API key (`apiKey`, or a generated one). */
export async function createAccount(db: Db, name: string, apiKey: string = generateApiKey(), now = new Date()): Promise<CreatedAccount> {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 200) throw badInput("name", "account name must be 1 to 200 characters");
  const accountId = newId("acc", now.getTime());
  await db.write(async (m) => {
    await m.insert(AccountEntity, { id: accountId, name: trimmed, eventSeq: 0, createdAt: now });
    await m.insert(ApiKeyEntity, {
      id: newId("key", now.getTime()),
      accountId,
      keyHash: hashApiKey(apiKey),
      keyPrefix: apiKey.slice(0, 8),
      source: "api",
      createdAt: now,
      revokedAt: null,
    });
  });
  return { accountId, apiKey };
}

/** The event source an API key acts as: `api` (integrations) or `admin` (an admin tool acting for a person). */
export type ApiKeySource = "api" | "admin";

/** What `key create` prints: the new key's id, the key (shown once) and its source. */
export interface CreatedApiKey {
  accountId: string;
  apiKeyId: string;
  apiKey: string;
  source: ApiKeySource;
}

/**
 * Adds an API key to an existing account. Keys with source `admin` are for admin tools: the
 * events they cause carry source `admin` (hooks filter on it), everything else is as for `api`.
 */
export async function createApiKey(db: Db, accountId: string, source: ApiKeySource = "api", apiKey: string = generateApiKey(), now = new Date()): Promise<CreatedApiKey> {
  if (source !== "api" && source !== "admin") throw badInput("source", "source must be api or admin");
  const apiKeyId = newId("key", now.getTime());
  await db.write(async (m) => {
    const account = await m.findOne(AccountEntity, { where: { id: accountId } });
    if (!account) throw notFound("account", accountId, "accountId");
    await m.insert(ApiKeyEntity, { id: apiKeyId, accountId, keyHash: hashApiKey(apiKey), keyPrefix: apiKey.slice(0, 8), source, createdAt: now, revokedAt: null });
  });
  return { accountId, apiKeyId, apiKey, source };
}

/**
 * On an empty database, creates the first account with `bootstrapKey` (or a generated key,
 * returned so the caller can print it once). Returns null when accounts already exist.
 */
export async function bootstrapAccount(db: Db, bootstrapKey: string | undefined): Promise<(CreatedAccount & { generated: boolean }) | null> {
  const count = await db.read((m) => m.count(AccountEntity));
  if (count > 0) return null;
  const created = await createAccount(db, "default", bootstrapKey ?? generateApiKey());
  return { ...created, generated: bootstrapKey === undefined };
}

/** The actor of an API key (source `api`, or `admin` for admin keys), or null when the key is unknown or revoked. */
export async function authenticate(db: Db, apiKey: string): Promise<Actor | null> {
  if (apiKey.length < 16 || apiKey.length > 200) return null;
  const key = await db.read((m) => m.findOne(ApiKeyEntity, { where: { keyHash: hashApiKey(apiKey), revokedAt: IsNull() } }));
  return key ? { accountId: key.accountId, apiKeyId: key.id, source: key.source === "admin" ? "admin" : "api" } : null;
}

/** The API key in request headers: `Authorization: Bearer <key>` or `Api-Token: <key>`. */
export function apiKeyFromHeaders(get: (name: string) => string | undefined | null): string | null {
  const auth = get("authorization");
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return match ? match[1] : null;
  }
  const token = get("api-token");
  return token ? token.trim() : null;
}

/** The caller's account. */
export async function getAccount(db: Db, actor: Actor): Promise<AccountEntity> {
  const account = await db.read((m) => m.findOne(AccountEntity, { where: { id: actor.accountId } }));
  if (!account) throw new Error(`account ${actor.accountId} of an authenticated key is missing`);
  return account;
}
