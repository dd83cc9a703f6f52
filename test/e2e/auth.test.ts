import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyEntity } from "../../src/accounts/api-key.entity.js";
import { DRIVERS } from "../helpers/db.js";
import { BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { allEvents, expectClean } from "../helpers/graphql.js";

/** POSTs a GraphQL request with exactly these extra headers (no default auth). */
async function post(t: TestApp, headers: Record<string, string>, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> } };
}

describe.each(DRIVERS)("auth on %s", (driver) => {
  let t: TestApp;
  let bootstrapAccountId: string;
  beforeAll(async () => {
    t = await startTestApp(driver);
    bootstrapAccountId = (await t.ok(`{ me { id } }`)).me.id;
  });
  afterAll(() => t?.stop());

  const rejected: Array<[string, Record<string, string>]> = [
    ["no key at all", {}],
    ["an unknown key (Bearer)", { authorization: "Bearer hc_not_a_real_key_0123456789abcdef" }],
    ["an unknown key (Api-Token)", { "api-token": "hc_not_a_real_key_0123456789abcdef" }],
    ["a too-short key", { authorization: "Bearer short" }],
    ["an empty Bearer", { authorization: "Bearer " }],
    ["another auth scheme", { authorization: `Basic ${BOOTSTRAP_KEY}` }],
    ["a valid key with a typo", { authorization: `Bearer ${BOOTSTRAP_KEY}x` }],
    ["an empty Api-Token", { "api-token": "" }],
  ];

  it.each(rejected)("answers %s with UNAUTHENTICATED and HTTP 401", async (_name, headers) => {
    const { status, body } = await post(t, headers, `{ me { id } }`);
    expect(status).toBe(401);
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(body.errors![0].message).toMatch(/API key/);
    expect(JSON.stringify(body)).not.toContain(BOOTSTRAP_KEY);
    expectClean({ status, ...body });
  });

  it("accepts the key as Authorization: Bearer (scheme in any case)", async () => {
    for (const authorization of [`Bearer ${BOOTSTRAP_KEY}`, `bearer ${BOOTSTRAP_KEY}`, `BEARER   ${BOOTSTRAP_KEY}`]) {
      const { status, body } = await post(t, { authorization }, `{ me { id name } }`);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.me).toEqual({ id: bootstrapAccountId, name: "default" });
    }
  });

  it("accepts the key as Api-Token", async () => {
    const { status, body } = await post(t, { "api-token": BOOTSTRAP_KEY }, `{ me { id name } }`);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.me).toEqual({ id: bootstrapAccountId, name: "default" });
  });

  it("resolves each key to its own account, through either header", async () => {
    const other = await t.newAccount("Other Co");
    for (const headers of [{ authorization: `Bearer ${other.apiKey}` }, { "api-token": other.apiKey }] as Array<Record<string, string>>) {
      const { body } = await post(t, headers, `{ me { id name } }`);
      expect(body.data.me).toEqual({ id: other.accountId, name: "Other Co" });
    }
  });

  it("refuses a mutation without a valid key and writes nothing", async () => {
    const account = await t.newAccount();
    const before = await allEvents(t, account.apiKey);
    for (const headers of [{}, { authorization: "Bearer hc_wrong_key_000000000000000000" }] as Array<Record<string, string>>) {
      const { status, body } = await post(t, headers, `mutation { createContact(input: { email: "nokey@example.com" }) { id } }`);
      expect(status).toBe(401);
      expect(body.errors![0].extensions?.code).toBe("UNAUTHENTICATED");
    }
    const contacts = await t.ok(`{ contacts(filter: { email: "nokey@example.com" }) { edges { node { id } } } }`, {}, account.apiKey);
    expect(contacts.contacts.edges).toEqual([]);
    const bootstrapContacts = await t.ok(`{ contacts(filter: { email: "nokey@example.com" }) { edges { node { id } } } }`);
    expect(bootstrapContacts.contacts.edges).toEqual([]);
    expect(await allEvents(t, account.apiKey)).toEqual(before);
  });

  it("refuses a revoked key", async () => {
    const account = await t.newAccount();
    expect((await post(t, { "api-token": account.apiKey }, `{ me { id } }`)).status).toBe(200);
    await t.app.deps.db.write((m) => m.update(ApiKeyEntity, { accountId: account.accountId }, { revokedAt: new Date() }));
    for (const headers of [{ "api-token": account.apiKey }, { authorization: `Bearer ${account.apiKey}` }] as Array<Record<string, string>>) {
      const { status, body } = await post(t, headers, `{ me { id } }`);
      expect(status).toBe(401);
      expect(body.errors![0].extensions?.code).toBe("UNAUTHENTICATED");
    }
  });
});
