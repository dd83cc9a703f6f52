import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks format). */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * The Standard Webhooks headers for one attempt: the same `webhook-id` on every attempt, a fresh
 * timestamp and signature each time. Signed by the `standardwebhooks` package, so any Standard
 * Webhooks library verifies it.
 */
export function signedHeaders(secret: string, webhookId: string, body: string, now: Date): Record<string, string> {
  const signature = new Webhook(secret).sign(webhookId, now, body);
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1_000)),
    "webhook-signature": signature,
  };
}
