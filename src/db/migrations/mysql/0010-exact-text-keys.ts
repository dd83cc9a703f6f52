import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Tags, list names and email keys compare byte for byte (mysql). The database default
 * utf8mb4_unicode_ci made "VIP" equal "vip" and "é" equal "e" on MySQL while SQLite compared
 * exactly: both drivers now agree (emails are lower-cased in code before they are stored as keys).
 */
export class ExactTextKeys1764000000010 implements MigrationInterface {
  name = "ExactTextKeys1764000000010";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE contact_tags MODIFY tag varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL`);
    await q.query(`ALTER TABLE events MODIFY tag varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`);
    await q.query(`ALTER TABLE lists MODIFY name varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL`);
    await q.query(`ALTER TABLE contacts MODIFY email_key varchar(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    const ci = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci";
    await q.query(`ALTER TABLE contacts MODIFY email_key varchar(254) ${ci} NOT NULL`);
    await q.query(`ALTER TABLE lists MODIFY name varchar(200) ${ci} NOT NULL`);
    await q.query(`ALTER TABLE events MODIFY tag varchar(100) ${ci} NULL`);
    await q.query(`ALTER TABLE contact_tags MODIFY tag varchar(100) ${ci} NOT NULL`);
  }
}
