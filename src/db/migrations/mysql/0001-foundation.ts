import type { MigrationInterface, QueryRunner } from "typeorm";

/** Accounts, API keys, contacts, lists, tags, memberships and the event log (MySQL / MariaDB). */
export class Foundation1764000000001 implements MigrationInterface {
  name = "Foundation1764000000001";

  async up(q: QueryRunner): Promise<void> {
    const opts = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
    await q.query(`CREATE TABLE accounts (
      id varchar(32) NOT NULL PRIMARY KEY,
      name varchar(200) NOT NULL,
      event_seq bigint NOT NULL DEFAULT 0,
      created_at datetime(3) NOT NULL
    ) ${opts}`);
    await q.query(`CREATE TABLE api_keys (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      key_hash varchar(64) NOT NULL,
      key_prefix varchar(16) NOT NULL,
      created_at datetime(3) NOT NULL,
      revoked_at datetime(3) NULL,
      UNIQUE KEY uq_api_keys_hash (key_hash),
      KEY ix_api_keys_account (account_id)
    ) ${opts}`);
    await q.query(`CREATE TABLE contacts (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      email varchar(254) NOT NULL,
      email_key varchar(254) NOT NULL,
      first_name varchar(255) NULL,
      last_name varchar(255) NULL,
      phone varchar(64) NULL,
      fields mediumtext NOT NULL,
      bounce_count int NOT NULL DEFAULT 0,
      bounced_at datetime(3) NULL,
      created_at datetime(3) NOT NULL,
      updated_at datetime(3) NOT NULL,
      UNIQUE KEY uq_contacts_email (account_id, email_key),
      KEY ix_contacts_account (account_id, id)
    ) ${opts}`);
    await q.query(`CREATE TABLE contact_tags (
      contact_id varchar(32) NOT NULL,
      tag varchar(100) NOT NULL,
      account_id varchar(32) NOT NULL,
      created_at datetime(3) NOT NULL,
      PRIMARY KEY (contact_id, tag),
      KEY ix_contact_tags_tag (account_id, tag, contact_id)
    ) ${opts}`);
    await q.query(`CREATE TABLE lists (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      name varchar(200) NOT NULL,
      created_at datetime(3) NOT NULL,
      UNIQUE KEY uq_lists_name (account_id, name)
    ) ${opts}`);
    await q.query(`CREATE TABLE list_memberships (
      contact_id varchar(32) NOT NULL,
      list_id varchar(32) NOT NULL,
      account_id varchar(32) NOT NULL,
      status varchar(16) NOT NULL,
      subscribed_at datetime(3) NOT NULL,
      unsubscribed_at datetime(3) NULL,
      PRIMARY KEY (contact_id, list_id),
      KEY ix_memberships_list (account_id, list_id, contact_id)
    ) ${opts}`);
    await q.query(`CREATE TABLE events (
      id varchar(32) NOT NULL PRIMARY KEY,
      account_id varchar(32) NOT NULL,
      sequence bigint NOT NULL,
      type varchar(64) NOT NULL,
      source varchar(16) NOT NULL,
      occurred_at datetime(3) NOT NULL,
      data mediumtext NOT NULL,
      contact_id varchar(32) NULL,
      list_id varchar(32) NULL,
      tag varchar(100) NULL,
      actor_key_id varchar(32) NULL,
      fanout_pending tinyint NOT NULL,
      UNIQUE KEY uq_events_sequence (account_id, sequence),
      KEY ix_events_fanout (fanout_pending, occurred_at, id)
    ) ${opts}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["events", "list_memberships", "lists", "contact_tags", "contacts", "api_keys", "accounts"]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
