import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, parseRateLimit, ConfigError } from "../../src/config.js";
import { ManualClock } from "../../src/shared/clock.js";
import { createLogger } from "../../src/shared/logger.js";
import { DRIVERS, occupySequence } from "../helpers/db.js";
import { BOOTSTRAP_KEY, startTestApp, type GqlResult, type TestApp } from "../helpers/app.js";
import { CONTACT_FIELDS, EVENT_FIELDS, createContact, expectClean, expectError } from "../helpers/graphql.js";

/** POSTs a raw body; returns status, headers and the parsed answer. */
async function post(t: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<GqlResult & { headers: Headers }> {
  const res = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${BOOTSTRAP_KEY}`, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { ...((await res.json()) as GqlResult), status: res.status, headers: res.headers };
}

/** `n` aliased copies of `selection`: `a0: me { id } a1: me { id } …`. */
const aliases = (n: number, selection = "me { id }") => Array.from({ length: n }, (_, i) => `a${i}: ${selection}`).join(" ");

describe.each(DRIVERS)("GraphQL limits on %s", (driver) => {
  describe("defaults", () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(driver);
    });
    afterAll(() => t?.stop());

    it("the heaviest ordinary reads pass: a full page of contacts, 500 events, deliveries with attempts", async () => {
      await createContact(t, { email: "a@example.com", fields: { plan: "gold" } });
      expect((await t.ok(`query($n: Int) { contacts(first: $n) { edges { cursor node { ${CONTACT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { n: 100 })).contacts.edges).toHaveLength(1);
      expect((await t.ok(`query($n: Int) { events(first: $n) { edges { cursor node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`, { n: 500 })).events.edges).toHaveLength(1);
      expect((await t.ok(`{ hooks { id stats { pending delivered failed dead consecutiveFailures lastError lastDeliveredAt lastFailureAt } } }`)).hooks).toEqual([]);
      expect((await t.ok(`{ a: me { id } b: me { name } ${aliases(28)} }`)).b.name).toBe("default");
    });

    it("refuses 31 aliases with TOO_MANY_ALIASES (400), accepts 30", async () => {
      const r = await post(t, { query: `{ ${aliases(31)} }` });
      expect(r.status).toBe(400);
      expect(expectError(r, "TOO_MANY_ALIASES").message).toMatch(/31 aliases, over the limit of 30/);
      expect(r.data ?? null).toBeNull();
      expect((await post(t, { query: `{ ${aliases(30)} }` })).data.a29.id).toEqual(expect.any(String));
    });

    it("refuses aliased mutations over the limit (31: TOO_MANY_ALIASES, 2,000: TOO_MANY_TOKENS first): nothing runs", async () => {
      const mutations = (n: number) => `mutation { ${Array.from({ length: n }, (_, i) => `a${i}: createList(input: { name: "x${i}" }) { id }`).join(" ")} }`;
      expectError(await post(t, { query: mutations(31) }), "TOO_MANY_ALIASES");
      expectError(await post(t, { query: mutations(2_000) }), "TOO_MANY_TOKENS");
      expect((await t.ok(`{ lists { id } }`)).lists).toEqual([]);
    });

    it("refuses a document over 5,000 tokens with TOO_MANY_TOKENS (400); large values as variables pass", async () => {
      const r = await post(t, { query: `{ me { ${"id ".repeat(6_000)} } }` });
      expect(r.status).toBe(400);
      expect(expectError(r, "TOO_MANY_TOKENS").message).toMatch(/more than 5000 tokens/);
      const fields = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
      const created = await createContact(t, { email: "many-fields@example.com", fields });
      expect(Object.keys(created.fields)).toHaveLength(500);
    });

    it("refuses a batch (JSON array body) with BATCHING_NOT_SUPPORTED (400): none of its operations runs", async () => {
      const r = await post(t, [{ query: `mutation { createList(input: { name: "batched" }) { id } }` }, { query: "{ me { id } }" }]);
      expect(r.status).toBe(400);
      expectError(r, "BATCHING_NOT_SUPPORTED");
      expect(r.headers.get("x-request-id")).toBeTruthy();
      expect((await t.ok(`{ lists { name } }`)).lists.map((l: any) => l.name)).not.toContain("batched");
    });

    it("answers a subscription over HTTP with BAD_REQUEST, a persisted query with PERSISTED_QUERY_NOT_SUPPORTED", async () => {
      const subscription = await post(t, { query: "subscription { events { id } }" });
      expect(subscription.status).toBe(400);
      expect(["BAD_REQUEST", "GRAPHQL_VALIDATION_FAILED"]).toContain(subscription.errors![0].extensions!.code);
      expectClean(subscription);
      expectError(await post(t, { query: "{ me { id } }", extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } }), "PERSISTED_QUERY_NOT_SUPPORTED");
    });

    it("refuses contact fields nested deeper than 32 levels with BAD_USER_INPUT, even thousands deep", async () => {
      for (const depth of [33, 10_000]) {
        const nested = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
        const body = `{"query": "mutation($f: JSONObject) { createContact(input: { email: \\"deep@example.com\\", fields: $f }) { id } }", "variables": {"f": ${nested}}}`;
        expectError(await post(t, body), "BAD_USER_INPUT", "input.fields");
      }
      const ok = '{"a":'.repeat(32) + "1" + "}".repeat(32);
      const body = `{"query": "mutation($f: JSONObject) { createContact(input: { email: \\"deep@example.com\\", fields: $f }) { id } }", "variables": {"f": ${ok}}}`;
      expect((await post(t, body)).data.createContact.id).toEqual(expect.any(String));
    });

    it("suggests field names outside production", async () => {
      const r = await post(t, { query: "{ me { nmae } }" });
      expect(expectError(r, "GRAPHQL_VALIDATION_FAILED").message).toMatch(/Did you mean "name"\?/);
    });
  });

  describe("configured low", () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(driver, { env: { HOOKCAST_GRAPHQL_MAX_DEPTH: "3", HOOKCAST_GRAPHQL_MAX_COST: "500", HOOKCAST_GRAPHQL_MAX_ALIASES: "2", HOOKCAST_GRAPHQL_MAX_TOKENS: "100" } });
    });
    afterAll(() => t?.stop());

    it("QUERY_TOO_DEEP past the depth limit (fragments count), depth 3 passes", async () => {
      expect((await t.ok(`{ contacts { pageInfo { hasNextPage } } }`)).contacts.pageInfo.hasNextPage).toBe(false);
      for (const query of [`{ contacts { edges { node { id } } } }`, `{ contacts { ...C } } fragment C on ContactConnection { edges { node { id } } }`]) {
        const r = await post(t, { query });
        expect(r.status, query).toBe(400);
        expect(expectError(r, "QUERY_TOO_DEEP").message).toBe("query depth 4 is over the limit of 3");
      }
    });

    it("QUERY_TOO_COMPLEX counts a page at its first, literal or variable; an out-of-range first keeps its own error", async () => {
      const query = `query($n: Int) { contacts(first: $n) { pageInfo { hasNextPage endCursor } } }`; // 2 + (2 + 2) = 6 per page
      expect((await t.ok(query, { n: 80 })).contacts.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
      const r = await post(t, { query, variables: { n: 100 } });
      expect(r.status).toBe(400);
      expect(expectError(r, "QUERY_TOO_COMPLEX").message).toMatch(/^query cost 600 is over the limit of 500/);
      expectError(await post(t, { query: `{ contacts(first: 90) { pageInfo { hasNextPage endCursor } } }` }), "QUERY_TOO_COMPLEX");
      expectError(await t.gql(`{ contacts(first: -1) { pageInfo { hasNextPage } } }`), "BAD_USER_INPUT", "first");
    });

    it("a refused mutation changes nothing", async () => {
      const r = await post(t, { query: `mutation { a: createList(input: { name: "1" }) { id } b: createList(input: { name: "2" }) { id } c: createList(input: { name: "3" }) { id } }` });
      expectError(r, "TOO_MANY_ALIASES");
      expect((await t.ok(`{ lists { id } }`)).lists).toEqual([]);
    });

    it("TOO_MANY_TOKENS past the token limit", async () => {
      expectError(await post(t, { query: `{ me { ${"id ".repeat(100)} } }` }), "TOO_MANY_TOKENS");
    });
  });
});

describe("production", () => {
  it("hides field suggestions and keeps CSRF prevention", async () => {
    const t = await startTestApp("sqlite", { env: { NODE_ENV: "production", HOOKCAST_ALLOW_PRIVATE_TARGETS: "false" } });
    try {
      const r = await post(t, { query: "{ me { nmae } }" });
      const error = expectError(r, "GRAPHQL_VALIDATION_FAILED");
      expect(error.message).toBe('Cannot query field "nmae" on type "Account".');
      const csrf = await post(t, JSON.stringify({ query: "{ me { id } }" }), { "content-type": "text/plain" });
      expect(csrf.status).toBe(400);
      expectError(csrf, "BAD_REQUEST");
    } finally {
      await t.stop();
    }
  });
});

describe.each(DRIVERS)("rate limiting on %s", (driver) => {
  let t: TestApp;
  const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
  beforeAll(async () => {
    t = await startTestApp(driver, { env: { HOOKCAST_RATE_LIMIT: "3/60s" }, overrides: { clock } });
  });
  afterAll(() => t?.stop());

  it("gives each API key a bucket: over it, 429 RATE_LIMITED with Retry-After; refilled as the clock moves", async () => {
    const other = await t.newAccount("other");
    for (let i = 0; i < 3; i++) expect((await t.ok(`{ me { id } }`)).me.id).toEqual(expect.any(String));
    const refused = await post(t, { query: `mutation { createList(input: { name: "over" }) { id } }` });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("20");
    const error = expectError(refused, "RATE_LIMITED");
    expect(error.extensions!.retryAfterSeconds).toBe(20);
    expect(error.message).toMatch(/retry in 20 s/);
    // Another key has its own bucket; no key at all is refused as unauthenticated, not limited.
    expect((await t.ok(`{ lists { name } }`, {}, other.apiKey)).lists).toEqual([]);
    expect((await t.gql(`{ me { id } }`, {}, null)).status).toBe(401);

    clock.advance(19_000); // 0.95 of a token back: still refused, for 1 more second
    const stillRefused = await post(t, { query: "{ me { id } }" });
    expect([stillRefused.status, stillRefused.headers.get("retry-after")]).toEqual([429, "1"]);
    clock.advance(1_000);
    expect((await post(t, { query: "{ me { id } }" })).status).toBe(200);
    expect((await post(t, { query: "{ me { id } }" })).status).toBe(429);
    // The refused mutation never ran.
    clock.advance(60_000);
    expect((await t.ok(`{ lists { name } }`)).lists).toEqual([]);
  });
});

describe.each(DRIVERS)("rate limiting through Redis on %s", (driver) => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    while (stops.length) await stops.pop()!();
  });

  it("with REDIS_URL, API processes share one bucket per key", async () => {
    const clock = new ManualClock(new Date("2026-01-01T00:00:00Z"));
    const env = { HOOKCAST_RATE_LIMIT: "4/60s", REDIS_URL: "redis://127.0.0.1:6379" };
    const one = await startTestApp(driver, { env, overrides: { clock } });
    stops.push(() => one.stop());
    const two = await startTestApp(driver, { env, overrides: { clock }, databaseUrl: one.databaseUrl });
    stops.push(() => two.stop());
    // A fresh key per run: buckets live in the shared Redis.
    const { apiKey } = await one.newAccount("shared");
    const statuses = [];
    for (const app of [one, two, one, two, one, two]) statuses.push((await app.gql(`{ me { id } }`, {}, apiKey)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const refused = await post(two, { query: "{ me { id } }" }, { authorization: `Bearer ${apiKey}` });
    expect(refused.headers.get("retry-after")).toBe("15");
    expect(expectError(refused, "RATE_LIMITED").extensions!.retryAfterSeconds).toBe(15);
    clock.advance(15_000);
    expect((await one.gql(`{ me { id } }`, {}, apiKey)).status).toBe(200);
    expect((await two.gql(`{ me { id } }`, {}, apiKey)).status).toBe(429);
  });
});

describe("HOOKCAST_RATE_LIMIT", () => {
  it("parses <requests>/<duration>, 0 or off disables it, defaults to 600/60s, and refuses nonsense", () => {
    expect(loadConfig({}).rateLimit).toEqual({ limit: 600, windowMs: 60_000 });
    expect(parseRateLimit("100/1m")).toEqual({ limit: 100, windowMs: 60_000 });
    expect(parseRateLimit("0")).toBeNull();
    expect(loadConfig({ HOOKCAST_RATE_LIMIT: "off" }).rateLimit).toBeNull();
    for (const bad of ["fast", "10", "0/60s", "10/0s", "10/soon"]) expect(() => parseRateLimit(bad), bad).toThrow(ConfigError);
    expect(() => loadConfig({ HOOKCAST_GRAPHQL_MAX_DEPTH: "0" })).toThrow(/HOOKCAST_GRAPHQL_MAX_DEPTH/);
  });
});

describe.each(DRIVERS)("request ids on %s", (driver) => {
  const lines: any[] = [];
  let t: TestApp;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    t = await startTestApp(driver, { overrides: { logger: createLogger("info", sink) } });
  });
  afterAll(() => t?.stop());

  it("a sane x-request-id is kept: response header, masked error and every log line of the request carry it", async () => {
    const { accountId, apiKey } = await t.newAccount("req");
    await createContact(t, { email: "one@example.com" }, apiKey);
    const release = await occupySequence(t.app.deps.db, accountId, 2);
    try {
      const r = await post(t, { query: `mutation { createContact(input: { email: "two@example.com" }) { id } }` }, { authorization: `Bearer ${apiKey}`, "x-request-id": "trace-4f2a.9:x" });
      expect(r.headers.get("x-request-id")).toBe("trace-4f2a.9:x");
      const error = expectError(r, "INTERNAL_SERVER_ERROR");
      expect(error.extensions!.requestId).toBe("trace-4f2a.9:x");
      expect(error.message).toBe("Internal server error (reference trace-4f2a.9:x)");
      expectClean(r);
    } finally {
      await release();
    }
    const mine = lines.filter((l) => l.requestId === "trace-4f2a.9:x");
    const failure = mine.find((l) => l.msg === "unexpected error in a GraphQL request");
    expect(failure?.err?.message, JSON.stringify(mine)).toBeTruthy();
    expect(mine.find((l) => l.msg === "request")).toMatchObject({ accountId, route: "/graphql", status: 200, method: "POST" });
    expect(lines.some((l) => l.requestId !== "trace-4f2a.9:x" && l.msg === "unexpected error in a GraphQL request")).toBe(false);
  });

  it("an insane x-request-id (too long, odd characters) is replaced by a generated one", async () => {
    for (const given of ["x".repeat(200), "a b", "<script>", "a;b", ""]) {
      const res = await fetch(`${t.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${BOOTSTRAP_KEY}`, "x-request-id": given }, body: JSON.stringify({ query: "{ me { id } }" }) });
      const id = res.headers.get("x-request-id");
      expect(id, given).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines.find((l) => l.requestId === id && l.msg === "request" && l.route === "/graphql"), given).toBeTruthy();
    }
  });
});
