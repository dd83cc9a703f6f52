import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintToNumber, ms3 } from "../db/columns.js";

/** A tenant. Everything else belongs to exactly one account. */
@Entity({ name: "accounts" })
export class AccountEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ type: "varchar", length: 200 })
  name!: string;

  /** Last event sequence handed out; incremented in the writer's transaction (row lock = commit order). */
  @Column({ name: "event_seq", type: "bigint", default: 0, transformer: bigintToNumber })
  eventSeq!: number;

  @Column({ name: "created_at", ...ms3 })
  createdAt!: Date;
}
