import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { activeSecrets, signedHeaders, verifyWebhook } from "../../src/delivery/sign.js";

/**
 * Properties of signing and verification (fast-check): whatever the body, id, time and secret,
 * a signed webhook verifies, and changing any byte of the body, the id, the timestamp or the
 * signature makes it fail. Verification on the receiver side is the `standardwebhooks` package.
 */

/** `whsec_` + base64 of 24..64 random bytes. */
const secretArb = fc.uint8Array({ minLength: 24, maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString("base64")}`);
/** A JSON body, with non-ASCII text as often as not. */
const bodyArb = fc.oneof(fc.json(), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ data: v, note: "ünïcödé ✓ 😀" })));
const idArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
/** A moment near the test's now (within the 5-minute tolerance, with room for a 1-minute shift). */
const nowArb = fc.integer({ min: -200, max: 200 }).map((s) => new Date(Math.floor(Date.now() / 1_000) * 1_000 + s * 1_000));

const verifies = (headers: Record<string, string>, body: string | Buffer, secret: string) => {
  try {
    verifyWebhook(headers, body, secret);
    return true;
  } catch {
    return false;
  }
};

describe("signing properties", () => {
  it("a signed webhook verifies and returns the body's JSON", () => {
    fc.assert(
      fc.property(secretArb, idArb, bodyArb, nowArb, (secret, id, body, now) => {
        const headers = signedHeaders(secret, id, body, now);
        expect(verifyWebhook(headers, body, secret)).toEqual(JSON.parse(body));
        expect(verifyWebhook(headers, Buffer.from(body, "utf8"), secret)).toEqual(JSON.parse(body));
      }),
      { numRuns: 200 },
    );
  });

  it("changing any byte of the body is rejected", () => {
    fc.assert(
      fc.property(secretArb, idArb, bodyArb, nowArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (secret, id, body, now, at, delta) => {
        const headers = signedHeaders(secret, id, body, now);
        const bytes = Buffer.from(body, "utf8");
        const i = at % bytes.length;
        const tampered = Buffer.from(bytes);
        tampered[i] = (tampered[i] + delta) % 256;
        expect(verifies(headers, tampered, secret)).toBe(false);
        // Appending or dropping a byte too.
        expect(verifies(headers, Buffer.concat([bytes, Buffer.from(" ")]), secret)).toBe(false);
        expect(verifies(headers, bytes.subarray(0, bytes.length - 1), secret)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("changing the id, the timestamp, the signature or the secret is rejected", () => {
    fc.assert(
      fc.property(secretArb, secretArb, idArb, idArb, bodyArb, nowArb, fc.integer({ min: 1, max: 60 }), fc.nat(), (secret, other, id, otherId, body, now, shift, at) => {
        fc.pre(otherId !== id && other !== secret);
        const headers = signedHeaders(secret, id, body, now);
        expect(verifies({ ...headers, "webhook-id": otherId }, body, secret)).toBe(false);
        for (const seconds of [shift, -shift]) {
          expect(verifies({ ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) + seconds) }, body, secret)).toBe(false);
        }
        const signature = headers["webhook-signature"];
        const i = 3 + (at % (signature.length - 3)); // a character of the base64 after "v1,"
        const flipped = signature[i] === "A" ? "B" : "A";
        expect(verifies({ ...headers, "webhook-signature": signature.slice(0, i) + flipped + signature.slice(i + 1) }, body, secret)).toBe(false);
        expect(verifies(headers, body, other)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("during a rotation both secrets verify through the standardwebhooks package, a third does not", () => {
    fc.assert(
      fc.property(secretArb, secretArb, secretArb, idArb, bodyArb, nowArb, (current, previous, stranger, id, body, now) => {
        fc.pre(new Set([current, previous, stranger]).size === 3);
        const headers = signedHeaders([current, previous], id, body, now);
        expect(headers["webhook-signature"].split(" ")).toHaveLength(2);
        for (const secret of [current, previous]) expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
        expect(() => new Webhook(stranger).verify(body, headers)).toThrow();
        // Tampering still fails with either secret.
        const tampered = `${body} `;
        for (const secret of [current, previous]) expect(() => new Webhook(secret).verify(tampered, headers)).toThrow();
      }),
      { numRuns: 150 },
    );
  });

  it("activeSecrets signs with the previous secret exactly until it expires", () => {
    fc.assert(
      fc.property(secretArb, secretArb, fc.integer({ min: -86_400_000, max: 86_400_000 }), (current, previous, offset) => {
        const now = new Date("2026-06-01T00:00:00Z");
        const expiresAt = new Date(now.getTime() + offset);
        const secrets = activeSecrets({ signingSecret: current, previousSecret: previous, previousSecretExpiresAt: expiresAt }, now);
        expect(secrets).toEqual(offset > 0 ? [current, previous] : [current]);
        expect(activeSecrets({ signingSecret: current, previousSecret: null, previousSecretExpiresAt: null }, now)).toEqual([current]);
      }),
    );
  });
});
