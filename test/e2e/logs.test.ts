import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/shared/logger.js";
import { DRIVERS } from "../helpers/db.js";
import { BOOTSTRAP_KEY, startTestApp, waitFor } from "../helpers/app.js";
import { startReceiver } from "../helpers/receiver.js";

/** A logger exactly like production's, writing JSON lines into memory. */
function capturedLogger() {
  const lines: string[] = [];
  const logger = createLogger("debug", { write: (line: string) => void lines.push(line) });
  return { logger, lines, text: () => lines.join(""), json: () => lines.map((l) => JSON.parse(l)) };
}

describe.each(DRIVERS)("logs on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it("are JSON lines with request ids and delivery ids, and never contain an API key, a secret or a signature", async () => {
    const log = capturedLogger();
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_RETRY_SCHEDULE: "50ms,50ms" }, overrides: { logger: log.logger } });
    cleanups.push(() => t.stop());
    const post = async (query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
      const res = await fetch(`${t.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ query, variables }) });
      return { requestId: res.headers.get("x-request-id"), body: (await res.json()) as any };
    };

    const created = await post(`mutation($url: String!) { createHook(input: { url: $url }) { secret hook { id } } }`, { url: `${r.url}/h` }, { authorization: `Bearer ${BOOTSTRAP_KEY}`, "x-request-id": "req-create-hook-1" });
    expect(created.requestId).toBe("req-create-hook-1");
    const hookId = created.body.data.createHook.hook.id;
    const firstSecret = created.body.data.createHook.secret as string;
    const rotated = await post(`mutation($id: ID!) { rotateHookSecret(id: $id) { secret } }`, { id: hookId }, { "api-token": BOOTSTRAP_KEY });
    const secondSecret = rotated.body.data.rotateHookSecret.secret as string;
    expect(secondSecret).toMatch(/^whsec_/);
    // A bad key and a second account's key authenticate (or fail) without being logged.
    const other = await t.newAccount("other");
    const wrongKey = "hc_wrong_key_4d1f6a0b9c2e8f7a";
    const denied = await post(`{ me { id } }`, {}, { authorization: `Bearer ${wrongKey}`, "x-request-id": "bad<id> {\"forged\":1}" });
    expect(denied.body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    expect(denied.requestId).toMatch(/^[0-9a-f-]{36}$/); // an unsafe id is replaced, not echoed
    await post(`{ me { id } }`, {}, { authorization: `Bearer ${other.apiKey}` });

    // Delivering: the first attempt fails (500), the retry succeeds.
    r.answer = (_req, index) => (index === 0 ? { status: 500 } : { status: 204 });
    await post(`mutation { createContact(input: { email: "log@example.com" }) { id } }`, {}, { authorization: `Bearer ${BOOTSTRAP_KEY}` });
    await waitFor(() => log.json().some((l) => l.msg === "webhook delivered"), { message: "delivered line" });

    const text = log.text();
    const lines = log.json();
    const signatures = r.webhooks.flatMap((w) => String(w.headers["webhook-signature"]).split(" ").map((s) => s.split(",")[1]));
    const handshakeSecrets = r.handshakes.map((h) => String(h.headers["x-hook-secret"]));
    const forbidden = [BOOTSTRAP_KEY, other.apiKey, wrongKey, firstSecret, secondSecret, firstSecret.slice(6), secondSecret.slice(6), ...signatures, ...handshakeSecrets];
    expect(forbidden.length).toBeGreaterThanOrEqual(9);
    for (const value of forbidden) expect(text.includes(value), `log contains ${value}`).toBe(false);

    // Request lines: one per request, with the caller's id when it is safe, else a generated one.
    const hookRequest = lines.find((l) => l.requestId === "req-create-hook-1" && l.msg === "request");
    expect(hookRequest).toMatchObject({ method: "POST", route: "/graphql", status: 200, service: "hookcast" });
    expect(lines.find((l) => l.requestId === denied.requestId && l.msg === "request")).toBeDefined();
    expect(text).not.toContain("forged");

    // Delivery lines: the delivery id is the webhook-id the receiver saw.
    const deliveryId = r.webhooks[0].headers["webhook-id"];
    expect(lines.find((l) => l.msg === "webhook attempt failed; retry scheduled")).toMatchObject({ deliveryId, hookId, attempt: 1, statusCode: 500, outcome: "retry" });
    expect(lines.find((l) => l.msg === "webhook delivered")).toMatchObject({ deliveryId, hookId, attempt: 2, statusCode: 204, outcome: "delivered" });
  });

  it("redacts keys, secrets and credentials wherever they sit in a logged object", () => {
    const log = capturedLogger();
    const key = "hc_live_1234567890abcdef";
    const secret = "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0aW5nLW9ubHk=";
    log.logger.info(
      {
        apiKey: key,
        hook: { signingSecret: secret, previousSecret: secret, secret },
        headers: { authorization: `Bearer ${key}`, "api-token": key, "x-hook-secret": secret, "webhook-signature": `v1,${secret}` },
        err: { message: "insert failed", parameters: [secret], sql: `INSERT INTO hooks VALUES ('${secret}')` },
      },
      "everything sensitive at once",
    );
    expect(log.text()).not.toContain(key);
    expect(log.text()).not.toContain(secret);
    expect(log.json()[0].hook.signingSecret).toBe("[redacted]");
    expect(log.json()[0].err.message).toBe("insert failed");
  });
});
