import type { MigrationInterface, QueryRunner } from "typeorm";

/** Accounts, API keys, contacts, lists, tags, memberships and the event log (SQLite). */
export class Foundation1764000000001 implements MigrationInterface {
  name = "Foundation1764000000001";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE accounts (
      id varchar(32) NOT NULL PRIMARY KEY,
      name varchar(200) NOT NULL,
      event_seq bigint NOT NULL DEFAULT 0,
      created_at datetime NOT NULL
    )`);
    await q.query(`CREATE TABLE api_keys (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      key_hash varchar(64) NOT NULL,
      key_prefix varchar(16) NOT NULL,
      created_at datetime NOT NULL,
      revoked_at datetime NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_api_keys_hash ON api_keys (key_hash)`);
    await q.query(`CREATE INDEX ix_api_keys_account ON api_keys (account_id)`);
    await q.query(`CREATE TABLE contacts (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      email varchar(254) NOT NULL,
      email_key varchar(254) NOT NULL,
      first_name varchar(255) NULL,
      last_name varchar(255) NULL,
      phone varchar(64) NULL,
      fields text NOT NULL,
      bounce_count integer NOT NULL DEFAULT 0,
      bounced_at datetime NULL,
      created_at datetime NOT NULL,
      updated_at datetime NOT NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_contacts_email ON contacts (account_id, email_key)`);
    await q.query(`CREATE INDEX ix_contacts_account ON contacts (account_id, id)`);
    await q.query(`CREATE TABLE contact_tags (
      contact_id varchar(32) NOT NULL,
      tag varchar(100) NOT NULL,
      account_id varchar(32) NOT NULL,
      created_at datetime NOT NULL,
      PRIMARY KEY (contact_id, tag)
    )`);
    await q.query(`CREATE INDEX ix_contact_tags_tag ON contact_tags (account_id, tag, contact_id)`);
    await q.query(`CREATE TABLE lists (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      name varchar(200) NOT NULL,
      created_at datetime NOT NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_lists_name ON lists (account_id, name)`);
    await q.query(`CREATE TABLE list_memberships (
      contact_id varchar(32) NOT NULL,
      list_id varchar(32) NOT NULL,
      account_id varchar(32) NOT NULL,
      status varchar(16) NOT NULL,
      subscribed_at datetime NOT NULL,
      unsubscribed_at datetime NULL,
      PRIMARY KEY (contact_id, list_id)
    )`);
    await q.query(`CREATE INDEX ix_memberships_list ON list_memberships (account_id, list_id, contact_id)`);
    await q.query(`CREATE TABLE events (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      sequence bigint NOT NULL,
      type varchar(64) NOT NULL,
      source varchar(16) NOT NULL,
      occurred_at datetime NOT NULL,
      data text NOT NULL,
      contact_id varchar(32) NULL,
      list_id varchar(32) NULL,
      tag varchar(100) NULL,
      actor_key_id varchar(32) NULL,
      fanout_pending integer NOT NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_events_sequence ON events (account_id, sequence)`);
    await q.query(`CREATE INDEX ix_events_fanout ON events (fanout_pending, occurred_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["events", "list_memberships", "lists", "contact_tags", "contacts", "api_keys", "accounts"]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
