import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks format). */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * The Standard Webhooks headers for one attempt: the same `webhook-id` on every attempt, a fresh
 * timestamp and signature each time. Signed by the `standardwebhooks` package, so any Standard
 * Webhooks library verifies it. With several secrets (a rotation's grace period) the header
 * carries one signature per secret.
 */
export function signedHeaders(secrets: string | readonly string[], webhookId: string, body: string, now: Date): Record<string, string> {
  // During a rotation every valid secret signs: space-separated, as the spec allows.
  const signature = (typeof secrets === "string" ? [secrets] : secrets).map((secret) => new Webhook(secret).sign(webhookId, now, body)).join(" ");
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1_000)),
    "webhook-signature": signature,
  };
}

/** The secrets a hook signs with at `now`: the current one, plus the previous one during its grace period. */
export function activeSecrets(hook: { signingSecret: string; previousSecret: string | null; previousSecretExpiresAt: Date | null }, now: Date): string[] {
  return hook.previousSecret && hook.previousSecretExpiresAt && hook.previousSecretExpiresAt > now ? [hook.signingSecret, hook.previousSecret] : [hook.signingSecret];
}

/** Headers as a receiver's framework hands them over (Node's IncomingHttpHeaders, a Fetch Headers, or a plain object). */
export type WebhookHeaders = Record<string, string | string[] | undefined> | { get(name: string): string | null };

/**
 * For receivers: verifies a Hookcast webhook with the `standardwebhooks` package and returns
 * the parsed envelope. Throws when the signature does not match any of the header's signatures
 * or the timestamp is more than 5 minutes away from now. Pass the raw body, byte for byte.
 */
export function verifyWebhook(headers: WebhookHeaders, rawBody: string | Buffer, secret: string): unknown {
  const get = (name: string): string => {
    if (typeof (headers as { get?: unknown }).get === "function") return (headers as { get(n: string): string | null }).get(name) ?? "";
    const value = (headers as Record<string, string | string[] | undefined>)[name];
    return Array.isArray(value) ? value[0] : (value ?? "");
  };
  return new Webhook(secret).verify(typeof rawBody === "string" ? rawBody : rawBody.toString("utf8"), {
    "webhook-id": get("webhook-id"),
    "webhook-timestamp": get("webhook-timestamp"),
    "webhook-signature": get("webhook-signature"),
  });
}
