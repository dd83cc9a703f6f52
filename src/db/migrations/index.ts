import { Foundation1764000000001 as MysqlFoundation } from "./mysql/0001-foundation.js";
import { Delivery1764000000002 as MysqlDelivery } from "./mysql/0002-delivery.js";
import { SecretRotation1764000000003 as MysqlSecretRotation } from "./mysql/0003-secret-rotation.js";
import { OrderingBatching1764000000008 as MysqlOrderingBatching } from "./mysql/0008-ordering-batching.js";
import { Foundation1764000000001 as SqliteFoundation } from "./sqlite/0001-foundation.js";
import { Delivery1764000000002 as SqliteDelivery } from "./sqlite/0002-delivery.js";
import { SecretRotation1764000000003 as SqliteSecretRotation } from "./sqlite/0003-secret-rotation.js";
import { OrderingBatching1764000000008 as SqliteOrderingBatching } from "./sqlite/0008-ordering-batching.js";

/** Migrations per driver, in order. Written by hand for each dialect; `synchronize` is never used. */
export const MIGRATIONS = {
  mysql: [MysqlFoundation, MysqlDelivery, MysqlSecretRotation, MysqlOrderingBatching],
  sqlite: [SqliteFoundation, SqliteDelivery, SqliteSecretRotation, SqliteOrderingBatching],
};
