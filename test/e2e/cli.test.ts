import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/index.js";
import { DRIVERS, freshDatabaseUrl } from "../helpers/db.js";
import { BOOTSTRAP_KEY, startTestApp, waitFor, type TestApp } from "../helpers/app.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/**
 * `npm run build` output, compiled by this suite into its own directory: the same `tsc -p
 * tsconfig.json` as `dist/`, but never rewriting `dist/` under processes another suite is
 * running from it (tsc truncates and rewrites every file). Packages resolve from the
 * repository's node_modules as they do for `dist/`.
 */
const BUILD = `test/.artifacts/cli-build-${process.pid}`;
const CLI = `${BUILD}/src/cli.js`;
const MAIN = `${BUILD}/src/main.js`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <script> ...args` from the repository root with only `env` (plus PATH) set; no stdin. */
function runNode(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `npm start` without npm: a real Hookcast process, its output collected as it comes. */
function startMain(env: Record<string, string>): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<Exit> } {
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, out: () => stdout, err: () => stderr, exited };
}

/** Every row of every table, as text: where a plain-text key would show up. */
async function dumpTables(db: Db): Promise<string> {
  const tables: string[] =
    db.driver === "sqlite"
      ? (await db.read((m) => m.query(`SELECT name FROM sqlite_master WHERE type = 'table'`))).map((r: { name: string }) => r.name)
      : (await db.read((m) => m.query(`SHOW TABLES`))).map((r: Record<string, string>) => Object.values(r)[0]);
  expect(tables).toContain("api_keys");
  const rows = await Promise.all(tables.map((table) => db.read((m) => m.query(`SELECT * FROM ${table}`))));
  return JSON.stringify(rows);
}

beforeAll(async () => {
  // The CLI and the server run compiled, exactly as `npm run cli` and `npm start` do after `npm run build`.
  const build = await runNode([`${ROOT}/node_modules/typescript/bin/tsc`, "-p", "tsconfig.json", "--outDir", BUILD], {}, 120_000);
  expect(build.code, `tsc failed:\n${build.stdout}${build.stderr}`).toBe(0);
  expect(existsSync(`${ROOT}/${CLI}`)).toBe(true);
}, 150_000);

afterAll(() => rmSync(`${ROOT}/${BUILD}`, { recursive: true, force: true }));

describe.each(DRIVERS)("command line and start-up on %s", (driver) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function freshUrl(): Promise<string> {
    const fresh = await freshDatabaseUrl(driver);
    cleanups.push(fresh.drop);
    return fresh.url;
  }

  async function serve(databaseUrl: string): Promise<TestApp> {
    const t = await startTestApp(driver, { databaseUrl });
    cleanups.push(() => t.stop());
    return t;
  }

  it('`account create "Acme"` prints one JSON line {accountId, apiKey} whose key authenticates', async () => {
    const databaseUrl = await freshUrl();
    const result = await runNode([CLI, "account", "create", "Acme"], { DATABASE_URL: databaseUrl });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(result.stdout).toBe(`${lines[0]}\n`);
    const created = JSON.parse(lines[0]);
    expect(Object.keys(created).sort()).toEqual(["accountId", "apiKey"]);
    expect(created.accountId).toMatch(/^acc_[0-9a-z]{26}$/);
    expect(created.apiKey).toMatch(/^hc_[A-Za-z0-9_-]{43}$/);

    // A second account gets its own id and key.
    const second = JSON.parse((await runNode([CLI, "account", "create", "Beta", "Inc"], { DATABASE_URL: databaseUrl })).stdout);
    expect(second.accountId).not.toBe(created.accountId);
    expect(second.apiKey).not.toBe(created.apiKey);

    const t = await serve(databaseUrl);
    expect((await t.ok(`{ me { id name } }`, {}, created.apiKey)).me).toEqual({ id: created.accountId, name: "Acme" });
    expect((await t.ok(`{ me { id name } }`, {}, second.apiKey)).me).toEqual({ id: second.accountId, name: "Beta Inc" });
    // The database was not empty at start, so no bootstrap account was made.
    const bootstrap = await t.gql(`{ me { id } }`, {}, BOOTSTRAP_KEY);
    expect(bootstrap.status).toBe(401);

    const dump = await dumpTables(t.app.deps.db);
    expect(dump).not.toContain(created.apiKey);
    expect(dump).toContain(createHash("sha256").update(created.apiKey).digest("hex"));
  });

  it("`key create <accountId> --admin` adds a key whose changes carry source admin; without the flag, source api", async () => {
    const databaseUrl = await freshUrl();
    const account = JSON.parse((await runNode([CLI, "account", "create", "Acme"], { DATABASE_URL: databaseUrl })).stdout);
    const admin = await runNode([CLI, "key", "create", account.accountId, "--admin"], { DATABASE_URL: databaseUrl });
    expect(admin.stderr).toBe("");
    expect(admin.code).toBe(0);
    const adminKey = JSON.parse(admin.stdout);
    expect(adminKey).toEqual({ accountId: account.accountId, apiKeyId: expect.stringMatching(/^key_/), apiKey: expect.stringMatching(/^hc_/), source: "admin" });
    const plain = JSON.parse((await runNode([CLI, "key", "create", account.accountId], { DATABASE_URL: databaseUrl })).stdout);
    expect(plain.source).toBe("api");
    const unknown = await runNode([CLI, "key", "create", "acc_nope"], { DATABASE_URL: databaseUrl });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/account "acc_nope" not found/);
    expect((await runNode([CLI, "key", "create", account.accountId, "--root"], { DATABASE_URL: databaseUrl })).code).toBe(2);

    const t = await serve(databaseUrl);
    await t.ok(`mutation { createContact(input: { email: "a@example.com" }) { id } }`, {}, adminKey.apiKey);
    await t.ok(`mutation { createContact(input: { email: "b@example.com" }) { id } }`, {}, plain.apiKey);
    const events = (await t.ok(`{ events { edges { node { source data } } } }`, {}, account.apiKey)).events.edges.map((e: any) => [e.node.source, e.node.data.email]);
    expect(events).toEqual([["admin", "a@example.com"], ["api", "b@example.com"]]);
  });

  it("`account create` without a name prints the usage and exits 2", async () => {
    const result = await runNode([CLI, "account", "create"], { DATABASE_URL: await freshUrl() });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/usage:[\s\S]*account create <name>/);
  });

  it("a server on an empty database accepts HOOKCAST_BOOTSTRAP_API_KEY, stored only as its SHA-256", async () => {
    const databaseUrl = await freshUrl();
    const t = await serve(databaseUrl);
    const { me } = await t.ok(`{ me { id name } }`);
    expect(me.name).toBe("default");
    const keys = await t.app.deps.db.read((m) => m.query(`SELECT account_id, key_hash, key_prefix FROM api_keys`));
    expect(keys).toEqual([{ account_id: me.id, key_hash: createHash("sha256").update(BOOTSTRAP_KEY).digest("hex"), key_prefix: BOOTSTRAP_KEY.slice(0, 8) }]);
    expect(await dumpTables(t.app.deps.db)).not.toContain(BOOTSTRAP_KEY);
    if (driver === "sqlite") {
      await t.stop();
      const file = databaseUrl.slice("sqlite:".length);
      for (const path of [file, `${file}-wal`]) if (existsSync(path)) expect(readFileSync(path).includes(BOOTSTRAP_KEY)).toBe(false);
    }
  });

  it("`npm start` logs one line with the GraphQL URL, serves it, and exits 0 on SIGTERM", async () => {
    const databaseUrl = await freshUrl();
    // The default role (api + worker), as `npm start` runs it.
    const main = startMain({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrl, HOOKCAST_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY });
    cleanups.push(async () => {
      if (main.child.exitCode === null) main.child.kill("SIGKILL");
    });
    const line = await waitFor(() => main.out().split("\n").find((l) => l.includes("/graphql")), { timeoutMs: 20_000, message: `no URL line; stderr: ${main.err()}` });
    const url = /(http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(line)![1];
    expect(JSON.parse(line).msg).toContain(url);
    expect(main.out().split("\n").filter((l) => l.includes("/graphql"))).toHaveLength(1);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${BOOTSTRAP_KEY}` }, body: JSON.stringify({ query: "{ me { name } }" }) });
    expect(await res.json()).toEqual({ data: { me: { name: "default" } } });
    expect(main.out()).not.toContain(BOOTSTRAP_KEY);
    main.child.kill("SIGTERM");
    const exit = await main.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toBe("");
  });

  it("on an empty database without a bootstrap key, prints a generated key once, and it works", async () => {
    const databaseUrl = await freshUrl();
    const env = { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrl, HOOKCAST_ROLE: "api" };
    const first = startMain(env);
    cleanups.push(async () => void (first.child.exitCode === null && first.child.kill("SIGKILL")));
    const keyLine = await waitFor(() => first.out().split("\n").find((l) => l.includes('"apiKey"')), { timeoutMs: 20_000, message: first.err() });
    const { accountId, apiKey } = JSON.parse(keyLine);
    const urlLine = await waitFor(() => first.out().split("\n").find((l) => l.includes("/graphql")), { timeoutMs: 20_000 });
    const url = /(http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(urlLine)![1];
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "api-token": apiKey }, body: JSON.stringify({ query: "{ me { id } }" }) });
    expect(await res.json()).toEqual({ data: { me: { id: accountId } } });
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);

    // Restarted on the same database: no new account, no key printed.
    const second = startMain(env);
    cleanups.push(async () => void (second.child.exitCode === null && second.child.kill("SIGKILL")));
    await waitFor(() => second.out().includes("/graphql"), { timeoutMs: 20_000, message: second.err() });
    expect(second.out()).not.toContain("apiKey");
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  });

  // PORT on both drivers; the other variables split between them (each spawn costs a second of CPU).
  const badConfig: Array<[string, Record<string, string>]> = [
    ["PORT", { PORT: "abc" }],
    ...(driver === "sqlite"
      ? ([
          ["PORT", { PORT: "70000" }],
          ["DATABASE_URL", { DATABASE_URL: "postgres://localhost/hookcast" }],
          ["HOOKCAST_ROLE", { HOOKCAST_ROLE: "boss" }],
          ["HOOKCAST_BOOTSTRAP_API_KEY", { HOOKCAST_BOOTSTRAP_API_KEY: "short" }],
          ["HOOKCAST_ALLOW_PRIVATE_TARGETS", { HOOKCAST_ALLOW_PRIVATE_TARGETS: "true", NODE_ENV: "production" }],
        ] as Array<[string, Record<string, string>]>)
      : ([
          ["HOOKCAST_RETRY_SCHEDULE", { HOOKCAST_RETRY_SCHEDULE: "5s,soon" }],
          ["HOOKCAST_ALLOW_PRIVATE_TARGETS", { HOOKCAST_ALLOW_PRIVATE_TARGETS: "maybe" }],
          ["REDIS_URL", { REDIS_URL: "http://localhost:6379" }],
        ] as Array<[string, Record<string, string>]>)),
  ];

  it("a bad configuration stops the server at start: exit 1, one stderr line naming the variable", async () => {
    // One process per bad variable, all at once: each fails before opening the database.
    const databaseUrl = driver === "sqlite" ? "sqlite::memory:" : "mysql://root@127.0.0.1:1/never";
    const results = await Promise.all(badConfig.map(([, bad]) => runNode([MAIN], { DATABASE_URL: databaseUrl, ...bad })));
    results.forEach((result, i) => {
      const [name, bad] = badConfig[i];
      const context = `${JSON.stringify(bad)} -> ${JSON.stringify(result)}`;
      expect(result.code, context).toBe(1);
      const lines = result.stderr.split("\n").filter(Boolean);
      expect(lines, context).toHaveLength(1);
      expect(lines[0], context).toMatch(new RegExp(`^hookcast: bad configuration: ${name}\\b`));
      expect(result.stdout, context).toBe("");
    });
  });

  it("a bad configuration stops the CLI too: exit 1, one stderr line", async () => {
    const result = await runNode([CLI, "account", "create", "Acme"], { DATABASE_URL: "postgres://localhost/x" });
    expect(result.code).toBe(1);
    expect(result.stderr.split("\n").filter(Boolean)).toEqual([expect.stringMatching(/^hookcast: bad configuration: DATABASE_URL/)]);
    expect(result.stdout).toBe("");
  });
});

