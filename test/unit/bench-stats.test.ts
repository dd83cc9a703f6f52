import { describe, expect, it } from "vitest";
import { markdownTable, percentile, slope, type Row } from "../bench/lib/stats.js";

describe("bench statistics", () => {
  it("percentile is nearest-rank and ignores input order", () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
    expect(values[0]).toBe(5); // not sorted in place
  });

  it("slope is the least-squares rate of change", () => {
    expect(slope([[0, 10], [1, 12], [2, 14], [3, 16]])).toBeCloseTo(2);
    expect(slope([[0, 5], [1, 5], [2, 5]])).toBe(0);
    expect(slope([[0, 9], [1, 6], [2, 3]])).toBeCloseTo(-3);
    expect(slope([[1, 1]])).toBe(0);
  });

  it("the table shows figure, limit, ratio and whether the goal was met", () => {
    const rows: Row[] = [
      { case: "L1", name: "raw", driver: "-", figure: 4000, unit: "req/s", limit: NaN, ratio: NaN, goal: "limit", met: null },
      { case: "1", name: "drain", driver: "mysql", figure: 1000, unit: "dlv/s", limit: 4000, ratio: 0.25, goal: "≥ 0.5 × L1", met: false },
      { case: "5", name: "live", driver: "mysql", figure: NaN, unit: "msg/s", limit: NaN, ratio: NaN, goal: "≥ 0.5 × L2", met: null, note: "not available" },
    ];
    const lines = markdownTable(rows).split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^\| case +\| driver +\| figure +\| limit +\| ratio +\| goal +\| met\? +\|$/);
    expect(lines[3]).toMatch(/\| 1 drain .*\| mysql .*\| 1,000 dlv\/s .*\| 4,000 .*\| 0\.25 .*\| \*\*no\*\* +\|/);
    expect(lines[4]).toContain("not available");
  });
});
