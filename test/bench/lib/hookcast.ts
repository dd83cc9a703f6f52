/** Databases, a GraphQL client and the workload shapes shared by the bench and the soak. */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection, type Connection } from "mysql2/promise";
import { Pool } from "undici";

/** The two drivers. */
export type Driver = "mysql" | "sqlite";

/** The MariaDB server (root over TCP, no password), as the tests use it. */
export function mysqlServerUrl(): URL {
  const url = new URL(process.env.HOOKCAST_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306");
  url.pathname = "";
  return url;
}

/** A root connection to the MariaDB server (no database selected). */
export function rootConnection(): Promise<Connection> {
  return createConnection({ uri: mysqlServerUrl().toString() });
}

/** A fresh empty database: its `DATABASE_URL` and how to drop it. */
export interface FreshDatabase {
  driver: Driver;
  url: string;
  /** MySQL database name (empty for SQLite). */
  name: string;
  drop(): Promise<void>;
}

/** Creates a fresh utf8mb4 MySQL database, or a SQLite file in a temporary folder. */
export async function freshDatabase(driver: Driver, prefix = "hc_bench"): Promise<FreshDatabase> {
  if (driver === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    return { driver, name: "", url: `sqlite:${join(dir, "hookcast.sqlite")}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  const conn = await rootConnection();
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
  const url = mysqlServerUrl();
  url.pathname = `/${name}`;
  return {
    driver,
    name,
    url: url.toString(),
    drop: async () => {
      const c = await rootConnection();
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

/** A keep-alive GraphQL client bound to one API key. */
export class GqlClient {
  private readonly pool: Pool;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
    connections = 16,
  ) {
    this.pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  /** Runs an operation; throws on a transport or GraphQL error. */
  async ok<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await this.pool.request({
      path: "/graphql",
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.apiKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.body.text();
    let body: { data?: T; errors?: unknown[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors).slice(0, 500)}`);
    return body.data as T;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

const CREATE_HOOK = `mutation($input: CreateHookInput!) { createHook(input: $input) { secret hook { id status verificationError } } }`;

/** Creates a hook (the receiver answers the handshake); throws unless it is ACTIVE. */
export async function createHook(gql: GqlClient, url: string, events: string[] = ["*"]): Promise<{ id: string; secret: string }> {
  const data = await gql.ok<{ createHook: { secret: string; hook: { id: string; status: string; verificationError: string | null } } }>(CREATE_HOOK, {
    input: { url, events },
  });
  const { hook, secret } = data.createHook;
  if (hook.status !== "ACTIVE") throw new Error(`hook ${hook.id} is ${hook.status}: ${hook.verificationError}`);
  return { id: hook.id, secret };
}

/** The createContact mutation of every workload. */
export const CREATE_CONTACT = `mutation($input: CreateContactInput!) { createContact(input: $input) { id } }`;

// Custom fields that bring the webhook body of a contact.created event to about 1.5 KB, the
// size of a typical email-marketing contact with a handful of custom fields.
const FIELDS = {
  plan: "pro",
  company: "Analytical Engines Ltd",
  jobTitle: "Head of Integrations",
  city: "London",
  country: "GB",
  signupSource: "landing-page/spring-campaign",
  lifetimeValue: 1234.56,
  interests: ["newsletters", "product-updates", "webinars", "case-studies"],
  notes: "Prefers email over phone. Met at the spring conference; follow up about the enterprise plan and the SSO add-on.",
  utm: { source: "newsletter", medium: "email", campaign: "spring-launch", content: "hero-button" },
  score: 87,
  lastCampaign: "cmp_spring_launch_2026_variant_b",
  address: { street: "12 Babbage Street", postcode: "SW1A 1AA", region: "Greater London" },
  consent: { marketing: true, analytics: true, recordedAt: "2026-03-14T09:26:53.589Z", ip: "203.0.113.42", form: "frm_spring_signup" },
  preferences: { frequency: "weekly", language: "en-GB", timezone: "Europe/London", format: "html" },
  bio: "Mathematician and writer, chiefly known for work on the proposed mechanical general-purpose computer; first to see that it had applications beyond pure calculation.",
};

/** The input of the `i`-th createContact of a run tagged `tag` (unique email). */
export function contactInput(tag: string, i: number): Record<string, unknown> {
  return { email: `${tag}-${i}@bench.example.com`, firstName: "Ada", lastName: "Lovelace", phone: "+44 20 7946 0000", fields: FIELDS };
}

/**
 * A webhook body of the same shape and size as Hookcast's for {@link contactInput}: what the
 * raw-POST limit (L1) and the raw-websocket limit (L2) send.
 */
export function sampleEnvelope(i = 0): string {
  const now = new Date().toISOString();
  const input = contactInput("sample", i);
  return JSON.stringify({
    id: "evt_01m8yfz2752thbwcfaq6yxnkqs",
    type: "contact.created",
    source: "api",
    timestamp: now,
    sequence: i + 1,
    cursor: "c2VxOjE",
    data: {
      id: "con_01m8yfz2752thbwcfaq6yxnkqs",
      ...input,
      tags: [],
      lists: [],
      bounceCount: 0,
      bouncedAt: null,
      createdAt: now,
      updatedAt: now,
    },
  });
}

/** Runs `fn(i)` for i in [0, count) with at most `limit` calls at once; resolves with the results' count of successes. */
export async function pool(count: number, limit: number, fn: (i: number) => Promise<unknown>): Promise<{ ok: number; failed: number; firstError?: unknown }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: unknown;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        try {
          await fn(i);
          ok++;
        } catch (error) {
          failed++;
          firstError ??= error;
        }
      }
    }),
  );
  return { ok, failed, firstError };
}
