import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadListenEnv } from "../../src/config.js";

describe("live stream configuration", () => {
  it("has documented defaults", () => {
    expect(loadConfig({}).live).toEqual({ redisChannel: "hookcast", bufferMessages: 1_000, keepAliveMs: 12_000, maxConnectionsPerAccount: 100, pollMs: 1_000 });
  });

  it("reads every knob", () => {
    const live = loadConfig({ HOOKCAST_REDIS_CHANNEL: "acme:prod", HOOKCAST_LIVE_BUFFER: "50", HOOKCAST_LIVE_KEEPALIVE: "0", HOOKCAST_LIVE_MAX_CONNECTIONS: "3", HOOKCAST_LIVE_POLL: "250ms" }).live;
    expect(live).toEqual({ redisChannel: "acme:prod", bufferMessages: 50, keepAliveMs: 0, maxConnectionsPerAccount: 3, pollMs: 250 });
  });

  it("refuses bad values with one line naming the variable", () => {
    for (const [name, value] of [
      ["HOOKCAST_REDIS_CHANNEL", "has space"],
      ["HOOKCAST_LIVE_BUFFER", "1"],
      ["HOOKCAST_LIVE_BUFFER", "lots"],
      ["HOOKCAST_LIVE_KEEPALIVE", "soon"],
      ["HOOKCAST_LIVE_MAX_CONNECTIONS", "0"],
      ["HOOKCAST_LIVE_POLL", "-1s"],
    ]) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}:`));
    }
  });

  it("listen defaults come from HOOKCAST_URL / PORT and HOOKCAST_API_KEY", () => {
    expect(loadListenEnv({})).toEqual({ url: "http://localhost:4000", apiKey: undefined });
    expect(loadListenEnv({ PORT: "5000", HOOKCAST_API_KEY: "k" })).toEqual({ url: "http://localhost:5000", apiKey: "k" });
    expect(loadListenEnv({ HOOKCAST_URL: "https://hooks.example.com" }).url).toBe("https://hooks.example.com");
  });

  it("every live variable is in the README's configuration table", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const source = readFileSync(new URL("../../src/config.ts", import.meta.url), "utf8");
    const names = [...new Set(source.match(/HOOKCAST_(LIVE_[A-Z_]+|REDIS_CHANNEL)/g))];
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const name of names) expect(readme, name).toContain(`| \`${name}\` |`);
  });
});
