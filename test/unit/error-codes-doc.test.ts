import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/shared/errors.js";

/** The codes of the table in docs/errors.md: rows whose first cell is a code in backticks. */
function documentedCodes(markdown: string): string[] {
  return [...markdown.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/gm)].map((m) => m[1]);
}

describe("docs/errors.md", () => {
  const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

  it("lists exactly the codes of ERROR_CODES, each once", () => {
    const codes = documentedCodes(doc);
    expect(codes.length).toBe(new Set(codes).size);
    expect([...codes].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("gives every code a meaning", () => {
    for (const line of doc.split("\n").filter((l) => /^\|\s*`[A-Z]/.test(l))) {
      const meaning = line.split("|").at(-2)!.trim();
      expect(meaning.length, line).toBeGreaterThan(20);
    }
  });
});
