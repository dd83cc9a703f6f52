import { describe, expect, it } from "vitest";
import { dashboardCsp } from "../../src/server/dashboard.js";
import { routeOf } from "../../src/server/observe-request.js";
import { requestIdOf } from "../../src/server/request-id.js";

describe("request ids", () => {
  it("keeps a plain caller id and replaces anything else with a UUID", () => {
    expect(requestIdOf({ "x-request-id": "lb-1234:abc/def=" })).toBe("lb-1234:abc/def=");
    for (const bad of ["", "a".repeat(65), "has space", 'quote"', "new\nline", "<script>"]) {
      expect(requestIdOf({ "x-request-id": bad })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(requestIdOf({})).not.toBe(requestIdOf({}));
  });

  it("labels routes from a fixed set, so random paths cannot grow the metric", () => {
    expect(["/graphql", "/healthz", "/readyz", "/metrics", "/dashboard", "/dashboard/x.js", "/wp-admin", "/graphql/x"].map(routeOf)).toEqual([
      "/graphql",
      "/healthz",
      "/readyz",
      "/metrics",
      "/dashboard",
      "/dashboard",
      "other",
      "other",
    ]);
  });

  it("builds a dashboard CSP that allows only this host, and ignores a forged Host header", () => {
    expect(dashboardCsp("hookcast.example.com:4000")).toContain("connect-src 'self' ws://hookcast.example.com:4000 wss://hookcast.example.com:4000");
    const forged = dashboardCsp("evil.com; script-src *");
    expect(forged).toContain("connect-src 'self';");
    expect(forged).not.toContain("evil");
  });
});
