import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { METRIC_PREFIX, Metrics } from "../../src/shared/metrics.js";

/** One row of the metrics table in docs/operations.md: first cell a `hookcast_…` name (or `…_*` family). */
interface DocRow {
  names: string[];
  type: string;
  labels: string;
}

function metricRows(markdown: string): DocRow[] {
  return markdown
    .split("\n")
    .filter((line) => /^\|\s*`hookcast_/.test(line))
    .map((line) => {
      const [, first, type, labels] = line.split("|").map((cell) => cell.trim());
      return { names: [...first.matchAll(/`(hookcast_[a-z0-9_*]+)`/g)].map((m) => m[1]), type, labels };
    });
}

/** A registry with every series a process can have: database gauges and the worker's tick age included. */
function fullRegistry(): Metrics {
  const metrics = new Metrics({
    readDbGauges: async () => ({ queued: { due: 0, waiting: 0, parked: 0 }, oldestDueAgeSeconds: 0, fanOutBacklog: 0, fanOutLagSeconds: 0, hooksByStatus: {} }),
  });
  metrics.watchWorker(() => Date.now());
  return metrics;
}

const isFamily = (name: string) => name.endsWith("*");
const inFamily = (family: string, name: string) => name.startsWith(family.slice(0, -1));

describe("docs/operations.md metrics", () => {
  const doc = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
  const rows = metricRows(doc);
  const documented = rows.flatMap((r) => r.names);
  const registered = fullRegistry().registry.getMetricsAsArray();
  const names = registered.map((m) => m.name);

  it("documents every registered series, and every documented one is registered", () => {
    expect(rows.length).toBeGreaterThan(5);
    expect(documented.length).toBe(new Set(documented).size);
    for (const name of documented) {
      if (isFamily(name)) expect(names.filter((n) => inFamily(name, n)).length, name).toBeGreaterThan(0);
      else expect(names, name).toContain(name);
    }
    for (const name of names) {
      expect(name.startsWith(METRIC_PREFIX), name).toBe(true);
      expect(documented.some((d) => d === name || (isFamily(d) && inFamily(d, name))), `${name} is not in docs/operations.md`).toBe(true);
    }
  });

  it("gives Hookcast's own series their registered type and label names", () => {
    for (const row of rows) {
      for (const name of row.names.filter((n) => !isFamily(n))) {
        const metric = registered.find((m) => m.name === name)! as unknown as { type: string; labelNames: string[] };
        expect(row.type.split(" ")[0], name).toBe(metric.type);
        const labels = [...row.labels.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
        for (const label of metric.labelNames) expect(labels, `${name} label ${label}`).toContain(label);
      }
    }
  });

  it("names only registered series in the rest of the page (alert expressions, prose)", () => {
    const histograms = registered.filter((m) => (m as unknown as { type: string }).type === "histogram").map((m) => m.name);
    const mentioned = new Set([...doc.matchAll(/\bhookcast_[a-z0-9_]+[a-z0-9]\b(?!_?\*)/g)].map((m) => m[0]));
    expect(mentioned.size).toBeGreaterThan(5);
    for (const name of mentioned) {
      const base = name.replace(/_(bucket|count|sum)$/, "");
      const known = names.includes(name) || (base !== name && histograms.includes(base));
      expect(known, `${name} (docs/operations.md) is not a registered series`).toBe(true);
    }
  });
});
