export { Db, openDb, dataSourceOptions, driverOf, isDuplicateKey, isDatabaseUnavailable, lockedRowExists, CommitOutcomeUnknownError, type Driver, type WriteOptions } from "./data-source.js";
export { bigintToNumber, jsonText, boolInt, ms3 } from "./columns.js";
export { insertRows, updateByIds } from "./by-ids.js";
