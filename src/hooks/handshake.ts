import type { HttpClient } from "../delivery/index.js";
import { randomToken } from "../shared/ids.js";

/** Result of the REST Hooks intent verification. */
export type HandshakeResult = { ok: true } | { ok: false; reason: string };

/**
 * The REST Hooks handshake: POST to the URL with a random `X-Hook-Secret`; the receiver proves
 * intent by answering 2xx with the same header. The body says what is being asked, for
 * receivers that log it.
 */
export async function verifyIntent(http: HttpClient, url: string, hookId: string, now: Date): Promise<HandshakeResult> {
  const token = randomToken(24);
  const body = JSON.stringify({ type: "hook.verification", hookId, timestamp: now.toISOString(), message: "Echo the X-Hook-Secret header in a 2xx response to confirm this subscription." });
  const res = await http.post(url, { "x-hook-secret": token }, body);
  if (res.error) return { ok: false, reason: `handshake failed: ${res.error}` };
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) return { ok: false, reason: `handshake failed: receiver answered HTTP ${status}` };
  const echoed = res.headers["x-hook-secret"];
  const value = Array.isArray(echoed) ? echoed[0] : echoed;
  if (!value) return { ok: false, reason: "handshake failed: receiver answered 2xx without echoing X-Hook-Secret" };
  if (value !== token) return { ok: false, reason: "handshake failed: receiver echoed a different X-Hook-Secret" };
  return { ok: true };
}
