import { Foundation1764000000001 as MysqlFoundation } from "./mysql/0001-foundation.js";
import { Delivery1764000000002 as MysqlDelivery } from "./mysql/0002-delivery.js";
import { SecretRotation1764000000003 as MysqlSecretRotation } from "./mysql/0003-secret-rotation.js";
import { PayloadSources1764000000004 as MysqlPayloadSources } from "./mysql/0004-payload-sources.js";
import { OrderingBatching1764000000008 as MysqlOrderingBatching } from "./mysql/0008-ordering-batching.js";
import { ExactTextKeys1764000000010 as MysqlExactTextKeys } from "./mysql/0010-exact-text-keys.js";
import { Foundation1764000000001 as SqliteFoundation } from "./sqlite/0001-foundation.js";
import { Delivery1764000000002 as SqliteDelivery } from "./sqlite/0002-delivery.js";
import { SecretRotation1764000000003 as SqliteSecretRotation } from "./sqlite/0003-secret-rotation.js";
import { PayloadSources1764000000004 as SqlitePayloadSources } from "./sqlite/0004-payload-sources.js";
import { OrderingBatching1764000000008 as SqliteOrderingBatching } from "./sqlite/0008-ordering-batching.js";

/** Migrations per driver, in order. Written by hand for each dialect; `synchronize` is never used. */
export const MIGRATIONS = {
  mysql: [MysqlFoundation, MysqlDelivery, MysqlSecretRotation, MysqlPayloadSources, MysqlOrderingBatching, MysqlExactTextKeys],
  sqlite: [SqliteFoundation, SqliteDelivery, SqliteSecretRotation, SqlitePayloadSources, SqliteOrderingBatching],
};
