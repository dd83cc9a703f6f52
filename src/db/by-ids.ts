import type { EntityManager, EntityTarget, ObjectLiteral } from "typeorm";

/** Rows per statement: well under SQLite's 32,766 bound parameters and MySQL's packet size. */
const CHUNK = 500;

/** The table and column names of `entity` and a function preparing a property's value for the driver. */
function mapping<T extends ObjectLiteral>(m: EntityManager, entity: EntityTarget<T>) {
  const meta = m.connection.getMetadata(entity);
  const driver = m.connection.driver;
  const column = (property: string) => {
    const c = meta.findColumnWithPropertyName(property);
    if (!c) throw new Error(`${meta.name} has no column ${property}`);
    return c;
  };
  return {
    table: driver.escape(meta.tablePath),
    name: (property: string) => driver.escape(column(property).databaseName),
    // The driver's own conversion (transformers, dates as each driver stores them, booleans).
    value: (property: string, value: unknown) => driver.preparePersistentValue(value, column(property)),
  };
}

/**
 * `UPDATE <table> SET … WHERE id IN (…) [AND <col> = <value> …]` in one statement per
 * {@link CHUNK} ids, with `?` placeholders and values prepared by the driver exactly as TypeORM
 * prepares them. For the dispatcher's hot path: TypeORM's query builder names and rescans one
 * parameter per id, which costs more CPU than the statement itself with hundreds of ids.
 * Returns the rows changed.
 */
export async function updateByIds<T extends ObjectLiteral>(m: EntityManager, entity: EntityTarget<T>, ids: readonly string[], patch: Partial<T>, where: Partial<T> = {}): Promise<number> {
  if (ids.length === 0) return 0;
  const map = mapping(m, entity);
  const sets = Object.keys(patch).filter((k) => patch[k] !== undefined);
  const setSql = sets.map((k) => `${map.name(k)} = ?`).join(", ");
  const setValues = sets.map((k) => map.value(k, patch[k]));
  const conditions = Object.keys(where).filter((k) => where[k] !== undefined);
  const whereSql = conditions.map((k) => (where[k] === null ? ` AND ${map.name(k)} IS NULL` : ` AND ${map.name(k)} = ?`)).join("");
  const whereValues = conditions.filter((k) => where[k] !== null).map((k) => map.value(k, where[k]));
  let changed = 0;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const sql = `UPDATE ${map.table} SET ${setSql} WHERE ${map.name("id")} IN (${chunk.map(() => "?").join(", ")})${whereSql}`;
    changed += await run(m, sql, [...setValues, ...chunk, ...whereValues]);
  }
  return changed;
}

/**
 * `INSERT INTO <table> (…) VALUES (…), (…)` of whole entities (every column given), one
 * statement per {@link CHUNK} rows, values prepared by the driver; see {@link updateByIds}.
 * With `ignoreDuplicates`, rows whose unique key is taken are skipped (`INSERT IGNORE` on
 * MySQL, `INSERT OR IGNORE` on SQLite), as TypeORM's `orIgnore()` does.
 */
export async function insertRows<T extends ObjectLiteral>(m: EntityManager, entity: EntityTarget<T>, rows: readonly T[], options: { ignoreDuplicates?: boolean } = {}): Promise<void> {
  if (rows.length === 0) return;
  const { tablePath, columns } = m.connection.getMetadata(entity);
  const driver = m.connection.driver;
  const verb = !options.ignoreDuplicates ? "INSERT" : m.connection.options.type === "better-sqlite3" ? "INSERT OR IGNORE" : "INSERT IGNORE";
  const head = `${verb} INTO ${driver.escape(tablePath)} (${columns.map((c) => driver.escape(c.databaseName)).join(", ")}) VALUES `;
  const tuple = `(${columns.map(() => "?").join(", ")})`;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const values: unknown[] = [];
    // Column metadata in hand: no lookup per value (rows × columns on the outcome path).
    for (const row of chunk) for (const c of columns) values.push(driver.preparePersistentValue(row[c.propertyName] ?? null, c));
    await run(m, head + chunk.map(() => tuple).join(", "), values);
  }
}

/** Runs a statement on the manager's query runner (the transaction's, inside `db.write`); returns the rows it changed. */
async function run(m: EntityManager, sql: string, values: unknown[]): Promise<number> {
  if (!m.queryRunner) throw new Error("by-ids statements run inside a transaction");
  const result = await m.queryRunner.query(sql, values, true);
  return result.affected ?? 0;
}
