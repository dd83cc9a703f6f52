import { Column, Entity, PrimaryColumn } from "typeorm";
import { ms3 } from "../db/columns.js";

/** A mailing list of an account. */
@Entity({ name: "lists" })
export class ListEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ type: "varchar", length: 200 })
  name!: string;

  /** Random token naming the list in its public subscribe form (`/f/<token>`); not its id. */
  @Column({ name: "public_token", type: "varchar", length: 64, nullable: true })
  publicToken!: string | null;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;
}

/** Membership status of a contact on a list. */
export type MembershipStatus = "SUBSCRIBED" | "UNSUBSCRIBED";

/** A contact's membership of a list; kept after unsubscribing, with its status. */
@Entity({ name: "list_memberships" })
export class ListMembershipEntity {
  @PrimaryColumn({ name: "contact_id", type: "varchar", length: 32 })
  contactId!: string;

  @PrimaryColumn({ name: "list_id", type: "varchar", length: 32 })
  listId!: string;

  @Column({ name: "account_id", type: "varchar", length: 32 })
  accountId!: string;

  @Column({ type: "varchar", length: 16 })
  status!: MembershipStatus;

  @Column({ name: "subscribed_at", ...ms3 })
  subscribedAt!: Date;

  @Column({ name: "unsubscribed_at", ...ms3, nullable: true })
  unsubscribedAt!: Date | null;
}
