import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { DialOptions, Dialer, ResolvedAddress } from "../../src/delivery/index.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { expectError } from "../helpers/graphql.js";
import { startReceiver } from "../helpers/receiver.js";

// Only loopback sockets are opened here: other addresses come from an injected resolver and are
// either refused before any connection or handed to an injected dialer, which records them and
// connects to a loopback receiver instead.

const CREATE = `mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id url status verificationError } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateHookInput!) { updateHook(id: $id, input: $input) { id url status } }`;
const HOOKS = `{ hooks { id url } }`;

/** Refused with HOOK_URL_REJECTED when private targets are closed. */
const REFUSED_URLS = [
  "http://127.0.0.1:1/x",
  "http://[::ffff:127.0.0.1]/",
  "http://2130706433/",
  "http://0x7f.1/",
  "http://0177.0.0.1/",
  "http://127.1/",
  "http://[::1]:8080/",
  "http://[::127.0.0.1]/",
  "http://169.254.169.254/latest",
  "http://10.0.0.1/",
  "http://[fd00::1]/",
  "http://100.64.0.1/",
  "http://0.0.0.0/",
  "http://localhost/",
  "http://metadata.test/computeMetadata/v1/",
];

/** Resolves test names without DNS: `metadata.test` points at cloud metadata. */
function resolver(table: Record<string, () => string[]>) {
  return async (host: string): Promise<ResolvedAddress[]> => {
    const entry = table[host];
    if (entry) return entry().map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    if (host === "localhost") return [{ address: "127.0.0.1", family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  };
}

describe.each(DRIVERS)("egress guard on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function app(allowPrivate: boolean, table: Record<string, () => string[]> = {}, env: Record<string, string> = {}, dial?: Dialer): Promise<TestApp> {
    const t = await startTestApp(driver, {
      env: { HOOKCAST_ALLOW_PRIVATE_TARGETS: String(allowPrivate), ...env },
      overrides: { resolve: resolver({ "metadata.test": () => ["169.254.169.254"], ...table }), worker: { pollIntervalMs: 50 }, ...(dial ? { dial } : {}) },
    });
    cleanups.push(() => t.stop());
    return t;
  }

  it("createHook and updateHook refuse private, loopback and metadata targets in every notation", async () => {
    const t = await app(false);
    // A name that does not resolve is not refused up front (the send-time check decides).
    const created = await t.ok(CREATE, { input: { url: "http://nowhere.invalid/hook" } });
    const hook = created.createHook.hook;
    expect(hook.status).toBe("PENDING_VERIFICATION");
    expect(hook.verificationError).toMatch(/host not found/);
    const before = await t.ok(HOOKS);

    for (const url of REFUSED_URLS) {
      const c = await t.gql(CREATE, { input: { url } });
      expect(expectError(c, "HOOK_URL_REJECTED", "input.url").message, url).toMatch(/^url is refused: /);
      const u = await t.gql(UPDATE, { id: hook.id, input: { url } });
      expectError(u, "HOOK_URL_REJECTED", "input.url");
    }
    expect(await t.ok(HOOKS)).toEqual(before);
  });

  it("says why, without disclosing what a name resolved to", async () => {
    const t = await app(false);
    const metadata = await t.gql(CREATE, { input: { url: "http://metadata.test/" } });
    expect(metadata.errors?.[0].message).toBe("url is refused: metadata.test resolves to a refused address (link-local (169.254.0.0/16, fe80::/10))");
    const literal = await t.gql(CREATE, { input: { url: "http://2130706433/" } });
    expect(literal.errors?.[0].message).toBe("url is refused: 127.0.0.1 is loopback");
  });

  it("HOOKCAST_ALLOW_PRIVATE_TARGETS=true opens loopback and private, never link-local", async () => {
    const t = await app(true);
    const c = await t.gql(CREATE, { input: { url: "http://127.0.0.1:1/x" } });
    expect(c.errors).toBeUndefined();
    expect(c.data.createHook.hook.verificationError).toMatch(/connection refused/);
    expectError(await t.gql(CREATE, { input: { url: "http://169.254.169.254/latest" } }), "HOOK_URL_REJECTED", "input.url");
    expectError(await t.gql(CREATE, { input: { url: "http://metadata.test/" } }), "HOOK_URL_REJECTED", "input.url");
    expectError(await t.gql(CREATE, { input: { url: "http://100.64.0.1/" } }), "HOOK_URL_REJECTED", "input.url");
  });

  it("the dispatcher checks again at send time and records the refusal on the attempt (DNS rebinding)", async () => {
    // A receiver on loopback that closes every connection, so each send resolves afresh.
    const server: Server = createServer((req, res) => {
      const secret = req.headers["x-hook-secret"];
      req.resume();
      req.on("end", () => res.writeHead(200, { connection: "close", ...(typeof secret === "string" ? { "x-hook-secret": secret } : {}) }).end());
    });
    let webhooks = 0;
    server.on("request", (req) => {
      if (!req.headers["x-hook-secret"]) webhooks++;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;

    // rebind.test answers loopback (allowed here) for the handshake, then cloud metadata.
    let answer = ["127.0.0.1"];
    const t = await app(true, { "rebind.test": () => answer }, { HOOKCAST_RETRY_SCHEDULE: "1h" });
    const { hook } = (await t.ok(CREATE, { input: { url: `http://rebind.test:${port}/hook` } })).createHook;
    expect(hook.status).toBe("ACTIVE");

    answer = ["169.254.169.254"];
    await t.ok(`mutation { createContact(input: { email: "rebind@example.com" }) { id } }`);
    const attempt = await waitFor(async () => {
      const data = await t.ok(`query($hookId: ID!) { deliveries(hookId: $hookId, first: 10) { edges { node { attempts { statusCode error } } } } }`, { hookId: hook.id });
      return data.deliveries.edges[0]?.node.attempts[0];
    });
    expect(attempt.statusCode).toBeNull();
    expect(attempt.error).toBe("egress refused: rebind.test resolves to a refused address (link-local (169.254.0.0/16, fe80::/10))");
    expect(webhooks).toBe(0);
  });

  it("private targets closed: a public name is dialled only at its checked address; rebound to refused ones, never dialled", async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.stop());
    // Each webhook closes its connection, so the next send opens (and resolves) a new one.
    receiver.answer = () => ({ status: 204, headers: { connection: "close" } });
    const port = Number(new URL(receiver.url).port);
    const dialled: DialOptions[] = [];
    const dial: Dialer = (options) => {
      dialled.push({ ...options });
      return connect({ host: "127.0.0.1", port });
    };

    let answer = ["93.184.216.34"];
    const t = await app(false, { "public.test": () => answer }, { HOOKCAST_RETRY_SCHEDULE: "1h" }, dial);
    const { hook } = (await t.ok(CREATE, { input: { url: `http://public.test:${port}/hook` } })).createHook;
    expect(hook.status).toBe("ACTIVE");
    expect(receiver.handshakes).toHaveLength(1);
    expect(receiver.handshakes[0].headers.host).toBe(`public.test:${port}`);

    await t.ok(`mutation { createContact(input: { email: "public@example.com" }) { id } }`);
    await waitFor(() => receiver.webhooks.length === 1);
    expect(dialled.length).toBeGreaterThanOrEqual(1);
    expect(dialled.every((d) => d.host === "93.184.216.34" && d.family === 4 && d.port === port && d.hostname === "public.test"), JSON.stringify(dialled)).toBe(true);
    const dialsBefore = dialled.length;

    answer = ["169.254.169.254"];
    await t.ok(`mutation { createContact(input: { email: "rebound@example.com" }) { id } }`);
    const refused = await waitFor(async () => {
      const data = await t.ok(`query($hookId: ID!) { deliveries(hookId: $hookId, first: 10) { edges { node { attempts { statusCode error } } } } }`, { hookId: hook.id });
      return data.deliveries.edges.flatMap((e: any) => e.node.attempts).find((a: any) => a.error);
    });
    expect(refused).toEqual({ statusCode: null, error: "egress refused: public.test resolves to a refused address (link-local (169.254.0.0/16, fe80::/10))" });
    expect(dialled).toHaveLength(dialsBefore);
    expect(receiver.webhooks).toHaveLength(1);
  });
});
