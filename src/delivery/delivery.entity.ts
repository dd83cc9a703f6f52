import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintToNumber, boolInt, ms3 } from "../db/columns.js";

/** State of one (event × hook) delivery. */
export type DeliveryStatus = "PENDING" | "DELIVERING" | "DELIVERED" | "FAILED" | "DEAD" | "CANCELLED";

/**
 * One event to one hook: durable, unique per (hook, event). The queue is this table: a row is
 * claimable while `queued` and `availableAt <= now`. Claiming stamps a lease id and pushes
 * `availableAt` to the lease expiry, so a crashed worker's rows become due again by themselves.
 */
@Entity({ name: "deliveries" })
export class DeliveryEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ name: "hook_id", type: "varchar", length: 32 })
  hookId!: string;

  @Column({ name: "event_id", type: "varchar", length: 32 })
  eventId!: string;

  @Column({ name: "event_sequence", type: "bigint", transformer: bigintToNumber })
  eventSequence!: number;

  @Column({ type: "varchar", length: 16 })
  status!: DeliveryStatus;

  /** True while the delivery still has to be sent (PENDING, DELIVERING, FAILED). */
  @Column({ type: "tinyint", transformer: boolInt })
  queued!: boolean;

  /** When the row may next be claimed: due time, lease expiry, or far future while parked. */
  @Column({ name: "available_at", ...ms3 })
  availableAt!: Date;

  @Column({ name: "lease_id", type: "varchar", length: 40, nullable: true })
  leaseId!: string | null;

  @Column({ name: "attempt_count", type: "int", default: 0 })
  attemptCount!: number;

  @Column({ name: "next_attempt_at", ...ms3, nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ name: "delivered_at", ...ms3, nullable: true })
  deliveredAt!: Date | null;

  @Column({ name: "last_status_code", type: "int", nullable: true })
  lastStatusCode!: number | null;

  @Column({ name: "last_error", type: "varchar", length: 500, nullable: true })
  lastError!: string | null;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;

  @Column({ name: "updated_at", ...ms3 })
  updatedAt!: Date;

  /**
   * Ordered hooks: deliveries with the same key are sent one at a time in `eventSequence` order
   * (`<hookId>` for STRICT, `<hookId>:<contactId>` for PER_CONTACT); null = unordered.
   */
  @Column({ name: "ordering_key", type: "varchar", length: 80, nullable: true })
  orderingKey!: string | null;

  /** True when the hook batched at fan-out: the row is sent in a batch, never claimed alone. */
  @Column({ type: "tinyint", transformer: boolInt, default: 0 })
  batched!: boolean;

  /** The batch the row was last sent in (its `webhook-id`); the members of a batch are retried together. */
  @Column({ name: "batch_id", type: "varchar", length: 32, nullable: true })
  batchId!: string | null;
}

/** One HTTP try of a delivery. */
@Entity({ name: "delivery_attempts" })
export class DeliveryAttemptEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "delivery_id", type: "varchar", length: 32 })
  deliveryId!: string;

  @Column({ name: "hook_id", type: "varchar", length: 32 })
  hookId!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ name: "attempt_number", type: "int" })
  attemptNumber!: number;

  @Column({ name: "started_at", ...ms3 })
  startedAt!: Date;

  @Column({ name: "duration_ms", type: "int" })
  durationMs!: number;

  @Column({ name: "status_code", type: "int", nullable: true })
  statusCode!: number | null;

  /** First 2 KB of the response body. */
  @Column({ name: "response_excerpt", type: "text", nullable: true })
  responseExcerpt!: string | null;

  @Column({ type: "varchar", length: 500, nullable: true })
  error!: string | null;
}
