import { createConnection } from "mysql2/promise";
import { randomBytes } from "node:crypto";

function serverUrl(): URL {
  const url = new URL(process.env.HOOKCAST_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306");
  url.pathname = "";
  return url;
}

/** Creates a fresh utf8mb4 database; returns its URL and a function that drops it. */
export async function createMysqlDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `hc_t_${randomBytes(6).toString("hex")}`;
  const server = serverUrl();
  const conn = await createConnection({ uri: server.toString() });
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = await createConnection({ uri: server.toString() });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

/** Throws a clear error when MySQL does not answer (global setup): MySQL suites are required. */
export async function assertMysqlReachable(): Promise<void> {
  try {
    const conn = await createConnection({ uri: serverUrl().toString(), connectTimeout: 5_000 });
    await conn.query("SELECT 1");
    await conn.end();
  } catch (error) {
    throw new Error(`MySQL/MariaDB is required for the test suite at ${serverUrl().host} (HOOKCAST_TEST_MYSQL_URL): ${(error as Error).message}`);
  }
}
