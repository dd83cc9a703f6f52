import { connect, isIP, Socket } from "node:net";
import { loadConfig, type Config } from "../../src/config.js";
import { createAccount } from "../../src/accounts/account.service.js";
import type { Driver } from "../../src/db/index.js";
import type { Dialer } from "../../src/delivery/index.js";
import { startHookcast, type Hookcast, type Overrides } from "../../src/server/app.js";
import { silentLogger } from "../../src/shared/logger.js";
import { freshDatabaseUrl } from "./db.js";

/** The key the first account of every test app gets. */
export const BOOTSTRAP_KEY = "hc_test_bootstrap_key_0123456789";

/** A GraphQL response as the tests see it. */
export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: string[] }>;
}

/**
 * The egress dialer of every test app unless a test injects its own: `net.connect` to loopback
 * addresses, and a socket failing with `test dialer refused <address>` for anything else, so even
 * a broken egress guard never opens a socket beyond loopback from a test.
 */
export const loopbackOnlyDial: Dialer = ({ host, port, family }) => {
  if (isLoopback(host)) return connect({ host, port, family });
  const socket = new Socket();
  process.nextTick(() => socket.destroy(new Error(`test dialer refused ${host}`)));
  return socket;
};

function isLoopback(host: string): boolean {
  return (isIP(host) === 4 && host.startsWith("127.")) || host === "::1" || /^::ffff:(127\.|7f)/i.test(host);
}

/** A Hookcast server on port 0 over a fresh database, with a client bound to its first account. */
export interface TestApp {
  app: Hookcast;
  url: string;
  driver: Driver;
  databaseUrl: string;
  apiKey: string;
  /** POSTs a GraphQL request with `apiKey` (default: the first account's). */
  gql<T = any>(query: string, variables?: Record<string, unknown>, apiKey?: string | null): Promise<GqlResult<T>>;
  /** Like gql, but throws on errors and returns data. */
  ok<T = any>(query: string, variables?: Record<string, unknown>, apiKey?: string | null): Promise<T>;
  /** Creates another account; returns its key. */
  newAccount(name?: string): Promise<{ accountId: string; apiKey: string }>;
  stop(): Promise<void>;
}

/** Starts a test app; the env overrides are applied on top of test defaults. */
export async function startTestApp(driver: Driver, options: { env?: Record<string, string>; overrides?: Overrides; databaseUrl?: string } = {}): Promise<TestApp> {
  const fresh = options.databaseUrl ? { url: options.databaseUrl, drop: async () => {} } : await freshDatabaseUrl(driver);
  const config: Config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: fresh.url,
    HOOKCAST_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    HOOKCAST_ALLOW_PRIVATE_TARGETS: "true",
    LOG_LEVEL: "silent",
    // Every test client posts from 127.0.0.1: the per-address limit of the public pages is
    // tested on its own (public-sources.test.ts).
    HOOKCAST_PUBLIC_RATE_LIMIT: "0",
    ...options.env,
  });
  const app = await startHookcast(config, { logger: silentLogger, worker: { pollIntervalMs: 20 }, dial: loopbackOnlyDial, ...options.overrides });
  const url = app.url!;
  const gql = async <T>(query: string, variables?: Record<string, unknown>, apiKey: string | null = BOOTSTRAP_KEY): Promise<GqlResult<T>> => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const res = await fetch(`${url}/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as GqlResult<T>;
    return { ...body, status: res.status };
  };
  let stopped = false;
  return {
    app,
    url,
    driver,
    databaseUrl: fresh.url,
    apiKey: BOOTSTRAP_KEY,
    gql,
    async ok<T>(query: string, variables?: Record<string, unknown>, apiKey?: string | null) {
      const r = await gql<T>(query, variables, apiKey === undefined ? BOOTSTRAP_KEY : apiKey);
      if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
      return r.data as T;
    },
    newAccount: (name = "other") => createAccount(app.deps.db, name),
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.stop();
      await fresh.drop();
    },
  };
}

/** Waits until `check` returns a truthy value (bounded; never a fixed sleep). */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; message?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`waitFor timed out: ${options.message ?? ""} ${last ? String(last) : ""}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}
