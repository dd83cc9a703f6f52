/**
 * `hookcast listen` (issue 5): the real CLI process subscribes over graphql-ws and forwards each
 * event, signed like a webhook, to a real local receiver that verifies the signature with the
 * printed secret; across a server restart it resumes after its last event.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createContact as createContactService } from "../../src/contacts/contact.service.js";
import { openDb } from "../../src/db/index.js";
import { verifyWebhook } from "../../src/delivery/sign.js";
import { MemoryEventBus } from "../../src/events/event-bus.js";
import { EventLog } from "../../src/events/event-log.js";
import { systemClock } from "../../src/shared/clock.js";
import { DRIVERS, freshDatabaseUrl } from "../helpers/db.js";
import { BOOTSTRAP_KEY, startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { allEvents, createContact } from "../helpers/graphql.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Built into its own folder, like the CLI suite: never rewriting dist/ under other suites. */
const BUILD = `test/.artifacts/listen-build-${process.pid}`;

interface Forwarded {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  envelope: any;
}

/** A local receiver that verifies every request against `secret()` (Standard Webhooks). */
async function startVerifyingReceiver(secret: () => string): Promise<{ url: string; ok: Forwarded[]; bad: string[]; server: Server }> {
  const ok: Forwarded[] = [];
  const bad: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const envelope = verifyWebhook(req.headers, body, secret());
        ok.push({ headers: req.headers, body, envelope });
        res.writeHead(204).end();
      } catch (error) {
        bad.push(`${(error as Error).message}: ${body.slice(0, 100)}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, ok, bad, server };
}

/**
 * Creates a contact in the account with the project's own services on a connection of its own,
 * as any writer sharing the database would (no server involved); returns the contact.
 */
async function commitContact(databaseUrl: string, accountId: string, email: string): Promise<{ id: string }> {
  const db = await openDb(databaseUrl);
  try {
    const eventLog = new EventLog(db, new MemoryEventBus(), systemClock);
    return await createContactService({ db, eventLog }, { accountId, apiKeyId: null, source: "api" }, { email });
  } finally {
    await db.close();
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
const children = new Set<ChildProcess>();

beforeAll(() => {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json", "--outDir", BUILD], { cwd: ROOT, stdio: "pipe" });
}, 120_000);

/** Starts `hookcast listen <args>` from the suite's build, registered for teardown; `output()` is everything it printed so far. */
function startListen(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [`${BUILD}/src/cli.js`, "listen", ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

afterAll(() => rmSync(`${ROOT}/${BUILD}`, { recursive: true, force: true }));

describe.each(DRIVERS)("hookcast listen on %s", (driver) => {
  it("never follows a redirect: a 3xx is printed as the receiver's answer and its Location gets nothing", async () => {
    const t = await startTestApp(driver);
    cleanups.push(() => t.stop());
    const elsewhere: string[] = [];
    const target = createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url}`);
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => target.close(resolve)));
    const location = `http://127.0.0.1:${(target.address() as AddressInfo).port}/elsewhere`;
    const redirecting = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(307, { location }).end());
    });
    await new Promise<void>((resolve) => redirecting.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => redirecting.close(resolve)));

    const cli = startListen(["--forward-to", `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`, "--url", t.url, "--api-key", BOOTSTRAP_KEY]);
    await waitFor(() => /connected to ws:/.test(cli.output()) && t.app.live!.hub.liveCount === 1, { timeoutMs: 15_000, message: cli.output() });

    const a = await createContact(t, { email: "moved@example.com" });
    const created = (await allEvents(t)).find((e) => e.type === "contact.created" && e.data.id === a.id)!;
    await waitFor(() => cli.output().includes(`contact.created  ${created.id}  → 307`), { timeoutMs: 15_000, message: cli.output() });
    expect(elsewhere).toEqual([]);
  });

  it("forwards each matching event signed like a webhook, one line each, and resumes after a reconnect", async () => {
    const db = await freshDatabaseUrl(driver);
    cleanups.push(db.drop);
    let t: TestApp = await startTestApp(driver, { databaseUrl: db.url });
    cleanups.push(() => t.stop());
    const port = new URL(t.url).port;

    // The receiver verifies with the secret listen prints, once it has printed it.
    let printed = () => "";
    const secret = () => /signing secret: (whsec_\S+)/.exec(printed())?.[1] ?? "";
    const receiver = await startVerifyingReceiver(secret);
    cleanups.push(() => new Promise((resolve) => receiver.server.close(resolve)));
    const cli = startListen(["--forward-to", receiver.url, "--events", "contact.created,contact.tag_added", "--url", t.url, "--api-key", BOOTSTRAP_KEY]);
    printed = cli.output;
    await waitFor(() => secret() && /connected to ws:/.test(cli.output()) && t.app.live!.hub.liveCount === 1, { timeoutMs: 15_000, message: cli.output() });

    const a = await createContact(t, { email: "a@example.com" });
    await t.ok(`mutation($id: ID!) { tagContact(contactId: $id, tag: "vip") { id } }`, { id: a.id });
    await t.ok(`mutation($id: ID!) { recordBounce(contactId: $id) { id } }`, { id: a.id }); // filtered out
    await waitFor(() => receiver.ok.length >= 2, { message: cli.output() });

    // The server stops; while nothing serves, an event is committed straight to the database,
    // so it is in the log before listen can reconnect: it must come from the replay after the
    // cursor listen resumes from, once, and nothing before that cursor may come again.
    const { me } = await t.ok(`{ me { id } }`);
    await t.app.stop();
    await waitFor(() => /disconnected/.test(cli.output()), { message: cli.output() });
    const forwardedBefore = receiver.ok.length;
    const lastBefore = receiver.ok[forwardedBefore - 1].envelope.sequence;
    const b = await commitContact(db.url, me.id, "b@example.com");
    t = await startTestApp(driver, { databaseUrl: db.url, env: { PORT: port } }); // stopped by the cleanup above
    await waitFor(() => receiver.ok.length > forwardedBefore, { timeoutMs: 15_000, message: cli.output() });
    expect(cli.output()).toMatch(/connected to ws:\S+ \(resuming after the last event\)/);
    await t.ok(`mutation($id: ID!) { tagContact(contactId: $id, tag: "late") { id } }`, { id: b.id });
    await waitFor(() => receiver.ok.length >= forwardedBefore + 2, { timeoutMs: 15_000, message: cli.output() });

    // After the reconnect: the event committed while down (once), then the live one; nothing older.
    const afterReconnect = receiver.ok.slice(forwardedBefore).map((f) => f.envelope);
    expect(afterReconnect.map((e) => [e.type, e.data.id, e.tag ?? null])).toEqual([
      ["contact.created", b.id, null],
      ["contact.tag_added", b.id, "late"],
    ]);
    for (const e of afterReconnect) expect(e.sequence).toBeGreaterThan(lastBefore);
    // The first connection started live from now; only the second one resumed.
    expect(cli.output().match(/connected to ws:.*/g)).toEqual([expect.not.stringContaining("resuming"), expect.stringContaining("resuming after the last event")]);

    // Exactly the matching events of the log, in order, each once, each body the webhook envelope.
    const log = (await allEvents(t)).filter((e) => ["contact.created", "contact.tag_added"].includes(e.type));
    expect(receiver.bad).toEqual([]);
    expect(receiver.ok.map((f) => f.envelope.id)).toEqual(log.map((e) => e.id));
    for (const [i, f] of receiver.ok.entries()) {
      const e = log[i];
      expect(f.envelope).toEqual({ id: e.id, type: e.type, source: e.source, timestamp: e.occurredAt, sequence: e.sequence, cursor: e.cursor, ...(e.tag ? { tag: e.tag } : {}), data: e.data });
      expect(f.headers["webhook-id"]).toBe(e.id);
      expect(f.headers["content-type"]).toBe("application/json");
    }
    // One line per event forwarded, with the receiver's answer.
    for (const e of log) expect(cli.output()).toMatch(new RegExp(`${e.type}\\s+${e.id}\\s+→ 204`));
    expect(cli.output()).not.toMatch(/contact\.bounced/);
  }, 60_000);

  it("--secret signs with the given secret and --after replays from a cursor", async () => {
    const t = await startTestApp(driver);
    cleanups.push(() => t.stop());
    const given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const receiver = await startVerifyingReceiver(() => given);
    cleanups.push(() => new Promise((resolve) => receiver.server.close(resolve)));
    const first = await createContact(t, { email: "first@example.com" });
    const cursor = (await allEvents(t))[0].cursor;
    const second = await createContact(t, { email: "second@example.com" });
    const cli = startListen(["--forward-to", receiver.url, "--url", t.url, "--api-key", BOOTSTRAP_KEY, "--secret", given, "--after", cursor]);
    await waitFor(() => receiver.ok.length >= 1, { message: cli.output() });
    expect(cli.output()).toContain(`signing secret: ${given}`);
    expect(receiver.bad).toEqual([]);
    expect(receiver.ok.map((f) => f.envelope.data.id)).toEqual([second.id]);
    expect(first.id).not.toBe(second.id);
  }, 30_000);

  it("exits 1 with a clear line when the API key is refused", async () => {
    const t = await startTestApp(driver);
    cleanups.push(() => t.stop());
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const cli = startListen(["--forward-to", "http://127.0.0.1:9/hook", "--url", t.url, "--api-key", "hc_wrong_key_0123456789abcdef"]);
      cli.child.on("close", (code) => resolve({ code, out: cli.output() }));
    });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/hookcast: the API key was refused \(4403\)/);
  }, 30_000);
});
