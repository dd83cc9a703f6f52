export { Db, openDb, dataSourceOptions, driverOf, isDuplicateKey, type Driver } from "./data-source.js";
export { bigintToNumber, jsonText, boolInt, ms3 } from "./columns.js";
export { insertRows, updateByIds } from "./by-ids.js";
