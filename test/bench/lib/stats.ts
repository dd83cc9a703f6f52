/** Small statistics and the results table. */

/** The `p`-th percentile (0–100) of `values` (nearest rank); NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Least-squares slope of y over x (units of y per unit of x); 0 with fewer than two points. */
export function slope(points: Array<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** One row of the results. */
export interface Row {
  /** "L1", "1", "2", … */
  case: string;
  name: string;
  driver: "mysql" | "sqlite" | "-";
  /** The measured figure, with `unit`. NaN = not measured. */
  figure: number;
  unit: string;
  /** The limit it is divided by (L1 or L2), with its unit; NaN when none. */
  limit: number;
  ratio: number;
  goal: string;
  /** null = no goal on this row (a limit, or SQLite reported beside MySQL). */
  met: boolean | null;
  note?: string;
  details?: Record<string, unknown>;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–");

/** The table as Markdown (printed, and pasted into the README). */
export function markdownTable(rows: Row[]): string {
  const header = ["case", "driver", "figure", "limit", "ratio", "goal", "met?"];
  const lines = rows.map((r) => [
    `${r.case} ${r.name}`,
    r.driver,
    Number.isFinite(r.figure) ? `${fmt(r.figure, r.figure < 10 ? 2 : 0)} ${r.unit}` : (r.note ?? "not available"),
    Number.isFinite(r.limit) ? fmt(r.limit) : "",
    Number.isFinite(r.ratio) ? fmt(r.ratio, 2) : "",
    r.goal,
    r.met === null ? "" : r.met ? "yes" : "**no**",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");
}
