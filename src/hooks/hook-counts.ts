import { IsNull } from "typeorm";
import type { Db } from "../db/index.js";
import { HookEntity } from "./hook.entity.js";

/** Hooks that are not deleted, by status, across every account (for metrics). */
export async function countHooksByStatus(db: Db): Promise<Record<string, number>> {
  const rows: Array<{ status: string; n: string | number }> = await db.read((m) =>
    m.createQueryBuilder(HookEntity, "h").select("h.status", "status").addSelect("COUNT(*)", "n").where({ deletedAt: IsNull() }).groupBy("h.status").getRawMany(),
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
