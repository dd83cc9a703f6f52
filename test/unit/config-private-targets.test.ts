import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("HOOKCAST_ALLOW_PRIVATE_TARGETS", () => {
  it("is off by default and opens private targets outside production", () => {
    expect(loadConfig({}).allowPrivateTargets).toBe(false);
    expect(loadConfig({ HOOKCAST_ALLOW_PRIVATE_TARGETS: "true" }).allowPrivateTargets).toBe(true);
    expect(loadConfig({ HOOKCAST_ALLOW_PRIVATE_TARGETS: "true", NODE_ENV: "development" }).allowPrivateTargets).toBe(true);
  });

  it("is refused with NODE_ENV=production, with a message naming the variable and why", () => {
    const load = () => loadConfig({ HOOKCAST_ALLOW_PRIVATE_TARGETS: "true", NODE_ENV: "production" });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^HOOKCAST_ALLOW_PRIVATE_TARGETS: true is refused with NODE_ENV=production \(it opens loopback and private networks/);
    // Production with the guard closed starts as before.
    expect(loadConfig({ HOOKCAST_ALLOW_PRIVATE_TARGETS: "false", NODE_ENV: "production" })).toMatchObject({ allowPrivateTargets: false, production: true });
    expect(loadConfig({ NODE_ENV: "production" }).allowPrivateTargets).toBe(false);
  });
});
