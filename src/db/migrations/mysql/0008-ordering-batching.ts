import type { MigrationInterface, QueryRunner } from "typeorm";

/** Order of delivery and batching (issue 6, items 4 and 5) (mysql). */
export class OrderingBatching1764000000008 implements MigrationInterface {
  name = "OrderingBatching1764000000008";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hooks
      ADD COLUMN ordering varchar(16) NOT NULL DEFAULT 'NONE',
      ADD COLUMN batch_max_size int NULL,
      ADD COLUMN batch_max_wait_ms int NULL`);
    await q.query(`ALTER TABLE deliveries
      ADD COLUMN ordering_key varchar(80) NULL,
      ADD COLUMN batched tinyint NOT NULL DEFAULT 0,
      ADD COLUMN batch_id varchar(32) NULL`);
    // The claim's "no earlier unfinished delivery with this key" probe: one index range per candidate.
    await q.query(`CREATE INDEX ix_deliveries_order ON deliveries (ordering_key, queued, event_sequence)`);
    // Batched hooks with due work, found without touching unbatched rows.
    await q.query(`CREATE INDEX ix_deliveries_batching ON deliveries (batched, queued, available_at, hook_id)`);
    // A batched hook's queue in sequence order, and a batch's members.
    await q.query(`CREATE INDEX ix_deliveries_hook_queue ON deliveries (hook_id, queued, event_sequence)`);
    await q.query(`CREATE INDEX ix_deliveries_batch ON deliveries (batch_id)`);
    // The fan-out gate of ordered deliveries: has every earlier event of the account been fanned out?
    await q.query(`CREATE INDEX ix_events_fanout_account ON events (account_id, fanout_pending, sequence)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ix_events_fanout_account ON events`);
    for (const ix of ["ix_deliveries_batch", "ix_deliveries_hook_queue", "ix_deliveries_batching", "ix_deliveries_order"]) await q.query(`DROP INDEX ${ix} ON deliveries`);
    await q.query(`ALTER TABLE deliveries DROP COLUMN batch_id, DROP COLUMN batched, DROP COLUMN ordering_key`);
    await q.query(`ALTER TABLE hooks DROP COLUMN batch_max_wait_ms, DROP COLUMN batch_max_size, DROP COLUMN ordering`);
  }
}
