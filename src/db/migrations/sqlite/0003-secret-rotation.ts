import type { MigrationInterface, QueryRunner } from "typeorm";

/** Secret rotation: the previous signing secret, valid until its grace period ends (sqlite). */
export class SecretRotation1764000000003 implements MigrationInterface {
  name = "SecretRotation1764000000003";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hooks ADD COLUMN previous_secret varchar(128) NULL`);
    await q.query(`ALTER TABLE hooks ADD COLUMN previous_secret_expires_at datetime NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hooks DROP COLUMN previous_secret_expires_at`);
    await q.query(`ALTER TABLE hooks DROP COLUMN previous_secret`);
  }
}
