import { Column, Entity, PrimaryColumn } from "typeorm";
import { jsonText, ms3 } from "../db/columns.js";

/** A contact (a person on the mailing platform). Unique by lowercased email per account. */
@Entity({ name: "contacts" })
export class ContactEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ type: "varchar", length: 254 })
  email!: string;

  /** Lowercased email: the uniqueness key. */
  @Column({ name: "email_key", type: "varchar", length: 254 })
  emailKey!: string;

  @Column({ name: "first_name", type: "varchar", length: 255, nullable: true })
  firstName!: string | null;

  @Column({ name: "last_name", type: "varchar", length: 255, nullable: true })
  lastName!: string | null;

  @Column({ type: "varchar", length: 64, nullable: true })
  phone!: string | null;

  @Column({ type: "text", transformer: jsonText })
  fields!: Record<string, unknown>;

  /** Random token of the contact's unsubscribe link (`/u/<token>`): unguessable, never in event data. */
  @Column({ name: "unsubscribe_token", type: "varchar", length: 64, nullable: true })
  unsubscribeToken!: string | null;

  @Column({ name: "bounce_count", type: "int", default: 0 })
  bounceCount!: number;

  @Column({ name: "bounced_at", ...ms3, nullable: true })
  bouncedAt!: Date | null;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;

  @Column({ name: "updated_at", ...ms3 })
  updatedAt!: Date;
}

/** One tag on one contact. */
@Entity({ name: "contact_tags" })
export class ContactTagEntity {
  @PrimaryColumn({ name: "contact_id", type: "varchar", length: 32 })
  contactId!: string;

  @PrimaryColumn({ type: "varchar", length: 100 })
  tag!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;
}
