import type { MigrationInterface, QueryRunner } from "typeorm";
import { backfillTokens } from "../backfill-tokens.js";

/**
 * Issue 6 (payloads and sources), mysql: a hook's payload mode, selection set and echo
 * suppression; list public tokens and contact unsubscribe tokens (backfilled for existing rows);
 * the event source an API key acts as. The token columns stay NULLable (rows written by older
 * code paths get a token on first use); the unique indexes keep tokens distinct.
 */
export class PayloadSources1764000000004 implements MigrationInterface {
  name = "PayloadSources1764000000004";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hooks ADD COLUMN payload varchar(16) NOT NULL DEFAULT 'FULL'`);
    await q.query(`ALTER TABLE hooks ADD COLUMN selection text NULL`);
    await q.query(`ALTER TABLE hooks ADD COLUMN exclude_own_changes tinyint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN source varchar(16) NOT NULL DEFAULT 'api'`);
    await q.query(`ALTER TABLE lists ADD COLUMN public_token varchar(64) NULL`);
    await q.query(`ALTER TABLE contacts ADD COLUMN unsubscribe_token varchar(64) NULL`);
    await backfillTokens(q, "lists", "public_token");
    await backfillTokens(q, "contacts", "unsubscribe_token");
    await q.query(`CREATE UNIQUE INDEX uq_lists_public_token ON lists (public_token)`);
    await q.query(`CREATE UNIQUE INDEX uq_contacts_unsubscribe_token ON contacts (unsubscribe_token)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX uq_contacts_unsubscribe_token ON contacts`);
    await q.query(`DROP INDEX uq_lists_public_token ON lists`);
    await q.query(`ALTER TABLE contacts DROP COLUMN unsubscribe_token`);
    await q.query(`ALTER TABLE lists DROP COLUMN public_token`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN source`);
    await q.query(`ALTER TABLE hooks DROP COLUMN exclude_own_changes`);
    await q.query(`ALTER TABLE hooks DROP COLUMN selection`);
    await q.query(`ALTER TABLE hooks DROP COLUMN payload`);
  }
}
