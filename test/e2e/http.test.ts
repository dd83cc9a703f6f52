import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRIVERS } from "../helpers/db.js";
import { BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { expectClean } from "../helpers/graphql.js";

/** One raw HTTP exchange (node:http, so that the test controls the body and headers exactly). */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "POST", headers: options.headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

describe.each(DRIVERS)("HTTP edge on %s", (driver) => {
  let t: TestApp;
  let gqlUrl: string;
  const auth = { authorization: `Bearer ${BOOTSTRAP_KEY}` };
  beforeAll(async () => {
    t = await startTestApp(driver);
    gqlUrl = `${t.url}/graphql`;
  });
  afterAll(() => t?.stop());

  it("answers a body over 1 MB with 413 BAD_REQUEST (the answer arrives), and keeps serving", async () => {
    const body = Buffer.alloc(2 * 1_048_576, "a");
    const r = await raw(gqlUrl, { headers: { ...auth, "content-type": "application/json", "content-length": String(body.length) }, body });
    expect(r.status).toBe(413);
    expect(r.body.errors[0].extensions.code).toBe("BAD_REQUEST");
    expect((await t.ok(`{ me { name } }`)).me.name).toBe("default");
  });

  it("answers request-level mistakes with stable codes and 4xx, never 500", async () => {
    const cases: Array<[string, Parameters<typeof raw>[1], number, string]> = [
      ["invalid JSON", { headers: { ...auth, "content-type": "application/json" }, body: '{"query": "{ me { id } }"' }, 400, "BAD_REQUEST"],
      ["no query", { headers: { ...auth, "content-type": "application/json" }, body: '{"nope": 1}' }, 400, "BAD_REQUEST"],
      ["text/plain (CSRF prevention)", { headers: { ...auth, "content-type": "text/plain" }, body: '{"query": "{ me { id } }"}' }, 400, "BAD_REQUEST"],
      ["an unknown operationName", { headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ query: "query A { me { id } }", operationName: "B" }) }, 400, "OPERATION_RESOLUTION_FAILURE"],
      ["two operations, none named", { headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ query: "query A { me { id } } query B { me { id } }" }) }, 400, "OPERATION_RESOLUTION_FAILURE"],
      ["a syntax error", { headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ query: "{ me { id }" }) }, 400, "GRAPHQL_PARSE_FAILED"],
    ];
    for (const [name, options, status, code] of cases) {
      const r = await raw(gqlUrl, options);
      expect(r.status, name).toBe(status);
      expect(r.body.errors[0].extensions.code, name).toBe(code);
      expectClean({ status: r.status, ...r.body });
    }
  });

  it("refuses a mutation over GET and serves a query over GET", async () => {
    const mutation = await raw(`${gqlUrl}?query=${encodeURIComponent('mutation { createList(input: { name: "get" }) { id } }')}`, { method: "GET", headers: { ...auth, "apollo-require-preflight": "1" } });
    expect(mutation.status).toBe(405);
    expect(mutation.body.errors[0].extensions.code).toBe("BAD_REQUEST");
    expect((await t.ok(`{ lists { name } }`)).lists).toEqual([]);
    const query = await raw(`${gqlUrl}?query=${encodeURIComponent("{ me { name } }")}`, { method: "GET", headers: { ...auth, "apollo-require-preflight": "1" } });
    expect(query).toEqual({ status: 200, body: { data: { me: { name: "default" } } } });
  });

  it("serves /healthz without a key, answers 404 elsewhere, and echoes x-request-id", async () => {
    expect(await raw(`${t.url}/healthz`, { method: "GET" })).toEqual({ status: 200, body: { status: "ok" } });
    expect((await raw(`${t.url}/nope`, { method: "GET" })).status).toBe(404);
    const res = await fetch(gqlUrl, { method: "POST", headers: { ...auth, "content-type": "application/json", "x-request-id": "req-123" }, body: JSON.stringify({ query: "{ me { id } }" }) });
    expect(res.headers.get("x-request-id")).toBe("req-123");
  });
});

describe("introspection", () => {
  it("is on in development and off with NODE_ENV=production", async () => {
    const query = "{ __schema { queryType { name } } }";
    const dev = await startTestApp("sqlite");
    try {
      expect((await dev.ok(query)).__schema.queryType.name).toBe("Query");
    } finally {
      await dev.stop();
    }
    const prod = await startTestApp("sqlite", { env: { NODE_ENV: "production", HOOKCAST_ALLOW_PRIVATE_TARGETS: "false" } });
    try {
      const r = await prod.gql(query);
      expect(r.data ?? null).toBeNull();
      expect(r.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(r.errors?.[0].message).toMatch(/introspection/i);
    } finally {
      await prod.stop();
    }
  });
});
