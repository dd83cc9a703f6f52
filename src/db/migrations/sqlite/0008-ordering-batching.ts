import type { MigrationInterface, QueryRunner } from "typeorm";

/** Order of delivery and batching (issue 6, items 4 and 5) (sqlite). */
export class OrderingBatching1764000000008 implements MigrationInterface {
  name = "OrderingBatching1764000000008";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE hooks ADD COLUMN ordering varchar(16) NOT NULL DEFAULT 'NONE'`);
    await q.query(`ALTER TABLE hooks ADD COLUMN batch_max_size int NULL`);
    await q.query(`ALTER TABLE hooks ADD COLUMN batch_max_wait_ms int NULL`);
    await q.query(`ALTER TABLE deliveries ADD COLUMN ordering_key varchar(80) NULL`);
    await q.query(`ALTER TABLE deliveries ADD COLUMN batched tinyint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE deliveries ADD COLUMN batch_id varchar(32) NULL`);
    await q.query(`CREATE INDEX ix_deliveries_order ON deliveries (ordering_key, queued, event_sequence)`);
    await q.query(`CREATE INDEX ix_deliveries_batching ON deliveries (batched, queued, available_at, hook_id)`);
    await q.query(`CREATE INDEX ix_deliveries_hook_queue ON deliveries (hook_id, queued, event_sequence)`);
    await q.query(`CREATE INDEX ix_deliveries_batch ON deliveries (batch_id)`);
    await q.query(`CREATE INDEX ix_events_fanout_account ON events (account_id, fanout_pending, sequence)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const ix of ["ix_events_fanout_account", "ix_deliveries_batch", "ix_deliveries_hook_queue", "ix_deliveries_batching", "ix_deliveries_order"]) await q.query(`DROP INDEX ${ix}`);
    for (const col of ["batch_id", "batched", "ordering_key"]) await q.query(`ALTER TABLE deliveries DROP COLUMN ${col}`);
    for (const col of ["batch_max_wait_ms", "batch_max_size", "ordering"]) await q.query(`ALTER TABLE hooks DROP COLUMN ${col}`);
  }
}
