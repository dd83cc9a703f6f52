import { describe, expect, it } from "vitest";
import { generateSigningSecret, signedHeaders, verifyWebhook } from "../../src/delivery/index.js";

describe("verifyWebhook (the receiver helper)", () => {
  const secret = generateSigningSecret();
  const body = JSON.stringify({ id: "evt_1", type: "contact.created", data: { id: "con_1" } });

  it("accepts a fresh, correctly signed webhook and returns the envelope", () => {
    const headers = signedHeaders(secret, "dlv_1", body, new Date());
    expect(verifyWebhook(headers, body, secret)).toEqual(JSON.parse(body));
    expect(verifyWebhook(new Headers(headers), Buffer.from(body), secret)).toEqual(JSON.parse(body));
  });

  it("rejects a tampered body, another secret, another id, and a timestamp over 5 minutes old", () => {
    const headers = signedHeaders(secret, "dlv_1", body, new Date());
    expect(() => verifyWebhook(headers, body.replace("con_1", "con_2"), secret)).toThrow();
    expect(() => verifyWebhook(headers, body, generateSigningSecret())).toThrow();
    expect(() => verifyWebhook({ ...headers, "webhook-id": "dlv_2" }, body, secret)).toThrow();
    const old = signedHeaders(secret, "dlv_1", body, new Date(Date.now() - 6 * 60_000));
    expect(() => verifyWebhook(old, body, secret)).toThrow();
    const recent = signedHeaders(secret, "dlv_1", body, new Date(Date.now() - 4 * 60_000));
    expect(verifyWebhook(recent, body, secret)).toBeTruthy();
  });

  it("secrets are whsec_ + 32 random bytes", () => {
    const a = generateSigningSecret();
    expect(a).toMatch(/^whsec_/);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(32);
    expect(generateSigningSecret()).not.toBe(a);
  });
});
