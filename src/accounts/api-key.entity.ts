import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { ms3 } from "../db/columns.js";
import type { EventSource } from "../events/event.entity.js";

/** An API key of an account, stored only as its SHA-256 hash. */
@Entity({ name: "api_keys" })
export class ApiKeyEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  /** hex SHA-256 of the key: keys are 256-bit random, so a slow hash adds nothing. */
  @Index({ unique: true })
  @Column({ name: "key_hash", type: "varchar", length: 64 })
  keyHash!: string;

  /** First characters of the key, to tell keys apart in a UI without revealing them. */
  @Column({ name: "key_prefix", type: "varchar", length: 16 })
  keyPrefix!: string;

  /** The source of the events this key causes: `api` (integrations, default) or `admin` (an admin tool acting for a person). */
  @Column({ type: "varchar", length: 16, default: "api" })
  source!: Extract<EventSource, "api" | "admin">;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;

  @Column({ name: "revoked_at", ...ms3, nullable: true })
  revokedAt!: Date | null;
}
