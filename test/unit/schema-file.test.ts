import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { printHookcastSchema } from "../../src/server/schema.js";

describe("schema/schema.graphql", () => {
  it("is exactly what the code prints (run `npm run schema:print` after changing the schema)", async () => {
    const committed = readFileSync(new URL("../../schema/schema.graphql", import.meta.url), "utf8");
    expect(committed).toBe(await printHookcastSchema());
  });
});
