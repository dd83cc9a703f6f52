import { Foundation1764000000001 as MysqlFoundation } from "./mysql/0001-foundation.js";
import { Foundation1764000000001 as SqliteFoundation } from "./sqlite/0001-foundation.js";

/** Migrations per driver, in order. Written by hand for each dialect; `synchronize` is never used. */
export const MIGRATIONS = {
  mysql: [MysqlFoundation],
  sqlite: [SqliteFoundation],
};
