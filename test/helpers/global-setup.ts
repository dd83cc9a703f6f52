import { assertMysqlReachable } from "./mysql.js";

/** Fails the run at once, with one clear line, when the required MySQL is missing. */
export default async function setup(): Promise<void> {
  await assertMysqlReachable();
}
