import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintToNumber, boolInt, jsonText, ms3 } from "../db/columns.js";

/** Who caused an event (the ActiveCampaign model). */
export type EventSource = "public" | "admin" | "api" | "system";

/**
 * One entry of the event log (the outbox): appended in the same transaction as the change it
 * records, with a per-account gap-free sequence and the full resource snapshot in `data`.
 */
@Entity({ name: "events" })
export class EventEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ type: "bigint", transformer: bigintToNumber })
  sequence!: number;

  @Column({ type: "varchar", length: 64 })
  type!: string;

  @Column({ type: "varchar", length: 16 })
  source!: EventSource;

  @Column({ name: "occurred_at", ...ms3 })
  occurredAt!: Date;

  @Column({ type: "text", transformer: jsonText })
  data!: unknown;

  /** The contact the event is about, when it is about one (list filters, per-contact ordering). */
  @Column({ name: "contact_id", type: "varchar", length: 32, nullable: true })
  contactId!: string | null;

  /** The list a subscribe/unsubscribe event is about. */
  @Column({ name: "list_id", type: "varchar", length: 32, nullable: true })
  listId!: string | null;

  /** The tag a tag_added/tag_removed event is about. */
  @Column({ type: "varchar", length: 100, nullable: true })
  tag!: string | null;

  /** The API key that caused it, when one did (echo suppression). */
  @Column({ name: "actor_key_id", type: "varchar", length: 32, nullable: true })
  actorKeyId!: string | null;

  /** True until the fan-out has created this event's deliveries. */
  @Column({ name: "fanout_pending", type: "tinyint", transformer: boolInt })
  fanoutPending!: boolean;
}
