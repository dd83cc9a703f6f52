import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("HOOKCAST_PUBLIC_URL", () => {
  it("is optional, normalized without a trailing slash, and must be an http(s) base URL", () => {
    expect(loadConfig({}).publicUrl).toBeUndefined();
    expect(loadConfig({ HOOKCAST_PUBLIC_URL: "https://hooks.example.com/" }).publicUrl).toBe("https://hooks.example.com");
    expect(loadConfig({ HOOKCAST_PUBLIC_URL: "https://example.com/hookcast/" }).publicUrl).toBe("https://example.com/hookcast");
    for (const bad of ["hooks.example.com", "ftp://example.com", "https://example.com/?a=1", "https://u:p@example.com"]) {
      expect(() => loadConfig({ HOOKCAST_PUBLIC_URL: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ HOOKCAST_PUBLIC_URL: bad })).toThrow(/^HOOKCAST_PUBLIC_URL: /);
    }
  });
});
