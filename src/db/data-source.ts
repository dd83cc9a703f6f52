import "reflect-metadata";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DataSource, type DataSourceOptions, type EntityManager } from "typeorm";
import { Mutex } from "../shared/mutex.js";
import { ENTITIES } from "./entities.js";
import { MIGRATIONS } from "./migrations/index.js";

/** The two storage dialects. */
export type Driver = "mysql" | "sqlite";

/** Which driver a `DATABASE_URL` selects. */
export function driverOf(databaseUrl: string): Driver {
  return databaseUrl.startsWith("sqlite:") ? "sqlite" : "mysql";
}

/**
 * TypeORM options for a `DATABASE_URL`: `sqlite:<path>` (better-sqlite3; `sqlite::memory:` for a
 * throwaway database) or `mysql://` / `mariadb://` (mysql2, UTC, utf8mb4).
 */
export function dataSourceOptions(databaseUrl: string): DataSourceOptions {
  const common = { entities: ENTITIES, synchronize: false, migrationsRun: false, logging: false } as const;
  if (driverOf(databaseUrl) === "sqlite") {
    const path = databaseUrl.slice("sqlite:".length);
    const database = path === ":memory:" ? ":memory:" : resolve(path);
    if (database !== ":memory:") mkdirSync(dirname(database), { recursive: true });
    return {
      ...common,
      type: "better-sqlite3",
      database,
      migrations: MIGRATIONS.sqlite,
      enableWAL: database !== ":memory:",
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        db.pragma("busy_timeout = 5000");
        db.pragma("synchronous = NORMAL");
      },
    };
  }
  return {
    ...common,
    type: databaseUrl.startsWith("mariadb:") ? "mariadb" : "mysql",
    url: databaseUrl.replace(/^mariadb:/, "mysql:"),
    migrations: MIGRATIONS.mysql,
    timezone: "Z",
    charset: "utf8mb4_unicode_ci",
    supportBigNumbers: true,
    bigNumberStrings: false,
    extra: { connectionLimit: 20, enableKeepAlive: true },
  };
}

/** Options of {@link Db.write}. */
export interface WriteOptions<T> {
  /**
   * Tells, in a transaction of its own, whether the transaction that returned `result` committed
   * (for instance: does the event row it inserted exist, read with a locking read). Used only when
   * the connection was lost during COMMIT; see {@link Db.write}.
   */
  committed?: (manager: EntityManager, result: T) => Promise<boolean>;
}

/**
 * The connection was lost while COMMIT was on its way and the outcome could not be read back:
 * the change may or may not have been applied. Clients get `COMMIT_OUTCOME_UNKNOWN`.
 */
export class CommitOutcomeUnknownError extends Error {
  constructor(cause: unknown, readBack?: unknown) {
    super(`the database connection was lost during COMMIT${readBack ? " and the outcome could not be read back" : ""}`, { cause: readBack ? { commit: cause, readBack } : cause });
    this.name = "CommitOutcomeUnknownError";
  }
}

/** How long a read-back waits for the row lock of a transaction the server has not finished (s). */
export const READ_BACK_LOCK_WAIT_SECONDS = 5;

/**
 * A {@link WriteOptions.committed} read-back: whether row `id` of `table` exists, read with a
 * locking read (which waits for a transaction the server is still committing or rolling back).
 * The wait is bounded by `lockWaitSeconds` (default {@link READ_BACK_LOCK_WAIT_SECONDS}) instead
 * of the server's `innodb_lock_wait_timeout` (50 s by default): a transaction the server still
 * holds open (its client cut off by a partition) makes it fail with a lock wait timeout, and the
 * outcome stays unknown. MySQL only, like every read-back.
 */
export async function lockedRowExists(manager: EntityManager, table: "events" | "hooks", id: string, lockWaitSeconds = READ_BACK_LOCK_WAIT_SECONDS): Promise<boolean> {
  await manager.query("SET SESSION innodb_lock_wait_timeout = ?", [lockWaitSeconds]);
  try {
    const rows = (await manager.query(`SELECT id FROM ${table} WHERE id = ? LOCK IN SHARE MODE`, [id])) as unknown[];
    return rows.length === 1;
  } finally {
    // Back to the server's default: the pooled connection serves other transactions next.
    await manager.query("SET SESSION innodb_lock_wait_timeout = DEFAULT");
  }
}

/** Internal: the read-back found the transaction rolled back, so it may run again. */
class RolledBackError extends Error {
  constructor(cause: unknown) {
    super("the transaction was rolled back when its connection was lost during COMMIT", { cause });
  }
}

/** MySQL errors that mean "run the whole transaction again": deadlock, lock wait timeout. */
const RETRYABLE_MYSQL = new Set(["ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"]);

/**
 * The connection is gone (killed on the server, reset, server restarting): whatever ran on it
 * was rolled back by the server, unless the failure came while COMMIT was on its way.
 */
const CONNECTION_LOST = new Set(["PROTOCOL_CONNECTION_LOST", "ER_CONNECTION_KILLED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ER_SERVER_SHUTDOWN", "PROTOCOL_SEQUENCE_TIMEOUT"]);

function errorCode(error: unknown): string | undefined {
  return (error as { driverError?: { code?: string } }).driverError?.code ?? (error as { code?: string }).code;
}

/** Errors that mean "the database cannot be reached right now" (refused, too many connections). */
const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN", "ER_CON_COUNT_ERROR", "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR"]);

/**
 * True when `error` says the database was unreachable or its connection was lost (after
 * {@link Db}'s retries), as opposed to a bug or a rejected statement: nothing was changed, and
 * the request may be retried later. A lost COMMIT is a {@link CommitOutcomeUnknownError} instead.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!error || typeof error !== "object" || error instanceof CommitOutcomeUnknownError) return false;
  return error instanceof RolledBackError || connectionLost(error) || UNREACHABLE.has(errorCode(error) ?? "");
}

/** mysql2 marks an error after which its connection is unusable `fatal`. */
function connectionLost(error: unknown): boolean {
  const code = errorCode(error);
  const fatal = (error as { driverError?: { fatal?: boolean }; fatal?: boolean }).driverError?.fatal ?? (error as { fatal?: boolean }).fatal;
  return (code !== undefined && CONNECTION_LOST.has(code)) || fatal === true;
}

/**
 * The database handle every part uses. `write` runs a transaction (READ COMMITTED on MySQL,
 * retried on deadlock; serialized on SQLite, whose single connection cannot overlap
 * transactions); `read` runs outside a transaction (serialized with writes on SQLite, so no
 * read ever sees another caller's uncommitted rows).
 */
export class Db {
  readonly driver: Driver;
  private readonly mutex = new Mutex();

  constructor(readonly dataSource: DataSource) {
    this.driver = dataSource.options.type === "better-sqlite3" ? "sqlite" : "mysql";
  }

  /**
   * Runs `fn` in one transaction. `fn` must have no side effects outside the database: it may run
   * more than once. On MySQL it runs again (up to 5 times) after a deadlock or lock wait timeout,
   * and after its connection was lost before COMMIT was sent (the server rolled it back).
   *
   * A connection lost during COMMIT leaves the outcome unknown. With `options.committed`, the
   * outcome is read back on a fresh connection (a locking read, which waits for a transaction the
   * server is still finishing): committed, `write` returns `fn`'s result; rolled back, it runs
   * `fn` again. Without it, or if the read-back fails too, `write` throws
   * {@link CommitOutcomeUnknownError}.
   */
  write<T>(fn: (manager: EntityManager) => Promise<T>, options: WriteOptions<T> = {}): Promise<T> {
    if (this.driver === "sqlite") return this.mutex.run(() => this.dataSource.transaction(fn));
    return this.retrying(
      async () => {
        try {
          return await this.mysqlTransaction(fn);
        } catch (error) {
          const pending = this.commitFailures.get(error as object);
          if (!pending) throw error;
          if (!options.committed) throw new CommitOutcomeUnknownError(error);
          let committed: boolean;
          try {
            committed = await this.retrying(() => this.mysqlTransaction((m) => options.committed!(m, pending.result as T)), connectionLost);
          } catch (readBack) {
            throw new CommitOutcomeUnknownError(error, readBack);
          }
          if (committed) return pending.result as T;
          throw new RolledBackError(error);
        }
      },
      (error) => error instanceof RolledBackError || RETRYABLE_MYSQL.has(errorCode(error) ?? "") || connectionLost(error),
    );
  }

  /** Runs read-only work outside a transaction; on MySQL again on a fresh connection if its connection was lost. */
  read<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.driver === "sqlite") return this.mutex.run(() => fn(this.dataSource.manager));
    return this.retrying(() => fn(this.dataSource.manager), connectionLost);
  }

  /** Errors thrown by COMMIT itself (the outcome is unknown), with the result `fn` had returned. */
  private readonly commitFailures = new WeakMap<object, { result: unknown }>();

  /** Pool connections whose session isolation is already READ COMMITTED. */
  private readonly readCommitted = new WeakSet<object>();

  /**
   * A READ COMMITTED transaction on MySQL. The isolation is set once per pooled connection
   * (`SET SESSION`; a replaced connection gets it again) instead of before every transaction:
   * one round trip less on every write, the hot path's claims and outcome batches included.
   */
  private async mysqlTransaction<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const connection = (await runner.connect()) as object;
      if (!this.readCommitted.has(connection)) {
        await runner.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
        this.readCommitted.add(connection);
      }
      await runner.startTransaction();
      let result: T;
      try {
        result = await fn(runner.manager);
      } catch (error) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
      try {
        await runner.commitTransaction();
      } catch (error) {
        if (error && typeof error === "object") this.commitFailures.set(error, { result });
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
      return result;
    } finally {
      await runner.release();
    }
  }

  /** Closes the pool / file. */
  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  private async retrying<T>(run: () => Promise<T>, retryable: (error: unknown) => boolean): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (attempt >= 5 || !retryable(error)) throw error;
        // Back off a little, with jitter, so that colliding writers do not collide again.
        await new Promise((r) => setTimeout(r, attempt * 5 + Math.random() * 10));
      }
    }
  }
}

/** Opens the database of `databaseUrl` and applies pending migrations. */
export async function openDb(databaseUrl: string): Promise<Db> {
  const dataSource = new DataSource(dataSourceOptions(databaseUrl));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: "each" });
  return new Db(dataSource);
}

/** True when `error` is a unique-key violation on either driver (STACK.md trap 7). */
export function isDuplicateKey(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e.driverError?.code ?? e.code;
  return code === "ER_DUP_ENTRY" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
