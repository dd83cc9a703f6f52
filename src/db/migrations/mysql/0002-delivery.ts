import type { MigrationInterface, QueryRunner } from "typeorm";

/** Hooks, deliveries (the queue) and delivery attempts (mysql). */
export class Delivery1764000000002 implements MigrationInterface {
  name = "Delivery1764000000002";

  async up(q: QueryRunner): Promise<void> {
    const opts = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
    
    await q.query(`CREATE TABLE hooks (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      name varchar(200) NULL,
      url varchar(2048) NOT NULL,
      events text NOT NULL,
      sources text NOT NULL,
      list_id varchar(32) NULL,
      status varchar(32) NOT NULL,
      signing_secret varchar(128) NOT NULL,
      verification_error varchar(500) NULL,
      verified_at datetime(3) NULL,
      active_since datetime(3) NULL,
      created_by_key_id varchar(32) NULL,
      last_delivered_at datetime(3) NULL,
      last_failure_at datetime(3) NULL,
      last_error varchar(500) NULL,
      consecutive_failures int NOT NULL DEFAULT 0,
      failing_since datetime(3) NULL,
      disabled_reason varchar(500) NULL,
      created_at datetime(3) NOT NULL,
      updated_at datetime(3) NOT NULL,
      deleted_at datetime(3) NULL,
      deleted_reason varchar(500) NULL
    ) ${opts}`);
    await q.query(`CREATE INDEX ix_hooks_account ON hooks (account_id, deleted_at, id)`);
    await q.query(`CREATE TABLE deliveries (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      hook_id varchar(32) NOT NULL,
      event_id varchar(32) NOT NULL,
      event_sequence bigint NOT NULL,
      status varchar(16) NOT NULL,
      queued tinyint NOT NULL,
      available_at datetime(3) NOT NULL,
      lease_id varchar(40) NULL,
      attempt_count int NOT NULL DEFAULT 0,
      next_attempt_at datetime(3) NULL,
      delivered_at datetime(3) NULL,
      last_status_code int NULL,
      last_error varchar(500) NULL,
      created_at datetime(3) NOT NULL,
      updated_at datetime(3) NOT NULL
    ) ${opts}`);
    await q.query(`CREATE UNIQUE INDEX uq_deliveries_hook_event ON deliveries (hook_id, event_id)`);
    // The claim scans this index in order (STACK.md trap 2): queued rows by due time.
    await q.query(`CREATE INDEX ix_deliveries_due ON deliveries (queued, available_at, id)`);
    await q.query(`CREATE INDEX ix_deliveries_hook ON deliveries (hook_id, status, id)`);
    await q.query(`CREATE TABLE delivery_attempts (
      id varchar(32) NOT NULL PRIMARY KEY,
      delivery_id varchar(32) NOT NULL,
      hook_id varchar(32) NOT NULL,
      account_id varchar(32) NOT NULL,
      attempt_number int NOT NULL,
      started_at datetime(3) NOT NULL,
      duration_ms int NOT NULL,
      status_code int NULL,
      response_excerpt mediumtext NULL,
      error varchar(500) NULL
    ) ${opts}`);
    await q.query(`CREATE INDEX ix_attempts_delivery ON delivery_attempts (delivery_id, attempt_number)`);
    await q.query(`CREATE INDEX ix_attempts_started ON delivery_attempts (started_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["delivery_attempts", "deliveries", "hooks"]) await q.query(`DROP TABLE ${table}`);
  }
}
