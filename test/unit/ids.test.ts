import { describe, expect, it } from "vitest";
import { newId } from "../../src/shared/ids.js";

describe("newId", () => {
  it("is the prefix, 10 characters of time and 16 random ones, in lowercase Crockford base32", () => {
    expect(newId("con")).toMatch(/^con_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(newId("hook")).toMatch(/^hook_[0-9a-hjkmnp-tv-z]{26}$/);
  });

  it("orders by time across milliseconds", () => {
    const a = newId("con", Date.UTC(2030, 0, 1, 0, 0, 0, 1));
    const b = newId("con", Date.UTC(2030, 0, 1, 0, 0, 0, 2));
    expect(a < b).toBe(true);
  });

  it("ascends strictly for ids minted in the same millisecond", () => {
    const now = Date.UTC(2031, 5, 1);
    const ids = Array.from({ length: 2_000 }, () => newId("con", now));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("keeps ascending when the clock steps back", () => {
    const later = newId("evt", Date.UTC(2032, 0, 1, 0, 0, 1));
    const earlier = newId("evt", Date.UTC(2032, 0, 1, 0, 0, 0));
    expect(earlier > later).toBe(true);
  });
});
