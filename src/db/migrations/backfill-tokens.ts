import type { QueryRunner } from "typeorm";
import { randomToken } from "../../shared/ids.js";

/**
 * Gives every row of `table` without one a fresh random token in `column` (both drivers; ids and
 * tokens are bound parameters, the table and column names are constants of the migrations).
 */
export async function backfillTokens(q: QueryRunner, table: "lists" | "contacts", column: "public_token" | "unsubscribe_token"): Promise<void> {
  for (;;) {
    const rows: Array<{ id: string }> = await q.query(`SELECT id FROM ${table} WHERE ${column} IS NULL LIMIT 500`);
    if (rows.length === 0) return;
    for (const row of rows) await q.query(`UPDATE ${table} SET ${column} = ? WHERE id = ?`, [randomToken(24), row.id]);
  }
}
