import { Column, Entity, PrimaryColumn } from "typeorm";
import { boolInt, jsonText, ms3 } from "../db/columns.js";

/** Lifecycle of a hook (API.md). */
export type HookStatus = "PENDING_VERIFICATION" | "ACTIVE" | "PAUSED" | "DISABLED";

/** In which order a hook's deliveries reach its receiver (see docs/webhooks.md, "Order of delivery"). */
export type HookOrdering = "NONE" | "PER_CONTACT" | "STRICT";

/** What a hook's receiver gets: the full resource, or a reference to fetch it with (`docs/webhooks.md`). */
export type PayloadMode = "FULL" | "SKINNY";

/**
 * A webhook subscription of an account. Deleted hooks are kept (soft delete) so that their
 * delivery history stays queryable; every lookup of live hooks filters `deletedAt IS NULL`.
 */
@Entity({ name: "hooks" })
export class HookEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ type: "varchar", length: 200, nullable: true })
  name!: string | null;

  @Column({ type: "varchar", length: 2048 })
  url!: string;

  /** Event types, or `["*"]` for all. */
  @Column({ type: "text", transformer: jsonText })
  events!: string[];

  /** Lowercase sources (public, admin, api, system). */
  @Column({ type: "text", transformer: jsonText })
  sources!: string[];

  @Column({ name: "list_id", type: "varchar", length: 32, nullable: true })
  listId!: string | null;

  @Column({ type: "varchar", length: 32 })
  status!: HookStatus;

  /** `whsec_…`; never rendered by a query. */
  @Column({ name: "signing_secret", type: "varchar", length: 128 })
  signingSecret!: string;

  /** The secret before the last rotation; deliveries are signed with both until it expires. */
  @Column({ name: "previous_secret", type: "varchar", length: 128, nullable: true })
  previousSecret!: string | null;

  @Column({ name: "previous_secret_expires_at", ...ms3, nullable: true })
  previousSecretExpiresAt!: Date | null;

  @Column({ name: "verification_error", type: "varchar", length: 500, nullable: true })
  verificationError!: string | null;

  @Column({ name: "verified_at", ...ms3, nullable: true })
  verifiedAt!: Date | null;

  /** Events that occurred before this moment are not fanned out to the hook. */
  @Column({ name: "active_since", ...ms3, nullable: true })
  activeSince!: Date | null;

  /** FULL (default): `data` is the resource; SKINNY: `data` is `{ id, __typename }` plus a `fetch` request. */
  @Column({ type: "varchar", length: 16, default: "FULL" })
  payload!: PayloadMode;

  /** A GraphQL selection set on `Contact` shaping contact events' `data`; null = every field. */
  @Column({ type: "text", nullable: true })
  selection!: string | null;

  /** Echo suppression: events caused by `createdByKeyId` are not delivered to this hook. */
  @Column({ name: "exclude_own_changes", type: "tinyint", default: 0, transformer: boolInt })
  excludeOwnChanges!: boolean;

  @Column({ name: "created_by_key_id", type: "varchar", length: 32, nullable: true })
  createdByKeyId!: string | null;

  @Column({ name: "last_delivered_at", ...ms3, nullable: true })
  lastDeliveredAt!: Date | null;

  @Column({ name: "last_failure_at", ...ms3, nullable: true })
  lastFailureAt!: Date | null;

  @Column({ name: "last_error", type: "varchar", length: 500, nullable: true })
  lastError!: string | null;

  @Column({ name: "consecutive_failures", type: "int", default: 0 })
  consecutiveFailures!: number;

  /** First failure of the current failing streak (auto-disable); null after any success. */
  @Column({ name: "failing_since", ...ms3, nullable: true })
  failingSince!: Date | null;

  @Column({ name: "disabled_reason", type: "varchar", length: 500, nullable: true })
  disabledReason!: string | null;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;

  @Column({ name: "updated_at", ...ms3 })
  updatedAt!: Date;

  @Column({ name: "deleted_at", ...ms3, nullable: true })
  deletedAt!: Date | null;

  @Column({ name: "deleted_reason", type: "varchar", length: 500, nullable: true })
  deletedReason!: string | null;

  /** NONE (concurrent, any order), PER_CONTACT (sequence order per contact) or STRICT (sequence order for the whole hook). */
  @Column({ type: "varchar", length: 16, default: "NONE" })
  ordering!: HookOrdering;

  /** With batching: most deliveries per POST (1..1000); null = one delivery per POST. */
  @Column({ name: "batch_max_size", type: "int", nullable: true })
  batchMaxSize!: number | null;

  /** With batching: how long the oldest due delivery may wait for the batch to fill, ms. */
  @Column({ name: "batch_max_wait_ms", type: "int", nullable: true })
  batchMaxWaitMs!: number | null;
}
