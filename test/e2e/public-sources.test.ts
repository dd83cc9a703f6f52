import { ManualClock } from "../../src/shared/clock.js";
import { afterEach, describe, expect, it } from "vitest";
import { createApiKey } from "../../src/accounts/account.service.js";
import { DRIVERS } from "../helpers/db.js";
import { startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { allEvents, readContact } from "../helpers/graphql.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

const FORM = "application/x-www-form-urlencoded";

describe.each(DRIVERS)("public and system sources on %s", (driver) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup(env: Record<string, string> = {}): Promise<{ t: TestApp; r: Receiver }> {
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env });
    cleanups.push(() => t.stop());
    return { t, r };
  }

  async function newList(t: TestApp, name: string, apiKey?: string) {
    return (await t.ok(`mutation($name: String!) { createList(input: { name: $name }) { id name publicToken formUrl } }`, { name }, apiKey)).createList as {
      id: string;
      name: string;
      publicToken: string;
      formUrl: string;
    };
  }

  const post = (url: string, body: string, type: string, accept?: string) =>
    fetch(url, { method: "POST", headers: { "content-type": type, ...(accept ? { accept } : {}) }, body, redirect: "manual" });

  it("POSTs to the public pages are limited per client address: 429 with Retry-After, nothing written, back after the wait", async () => {
    const clock = new ManualClock(new Date("2026-06-01T00:00:00Z"));
    const r = await startReceiver();
    cleanups.push(() => r.stop());
    const t = await startTestApp(driver, { env: { HOOKCAST_PUBLIC_RATE_LIMIT: "2/60s" }, overrides: { clock } });
    cleanups.push(() => t.stop());
    const list = await newList(t, "limited");
    const subscribe = (email: string) => post(list.formUrl, JSON.stringify({ email }), "application/json");
    expect((await subscribe("one@example.com")).status).toBe(200);
    expect((await subscribe("two@example.com")).status).toBe(200);
    const refused = await subscribe("three@example.com");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect((await refused.json()).errors[0].extensions.code).toBe("RATE_LIMITED");
    expect((await fetch(list.formUrl)).status).toBe(200); // reading the form is not limited
    const emails = async () => (await t.ok(`{ contacts(first: 10) { edges { node { email } } } }`)).contacts.edges.map((e: any) => e.node.email).sort();
    expect(await emails()).toEqual(["one@example.com", "two@example.com"]);
    clock.advance(30_000);
    expect((await subscribe("three@example.com")).status).toBe(200);
    expect(await emails()).toEqual(["one@example.com", "three@example.com", "two@example.com"]);
  });

  it("the public form: GET serves an escaped HTML form; form posts and JSON subscribe with source public, scoped to the list's account", async () => {
    const { t } = await setup();
    const list = await newList(t, `<b>News & "Co"</b>`);
    expect(list.publicToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(list.publicToken).not.toContain(list.id);
    expect(list.formUrl).toBe(`${t.url}/f/${list.publicToken}`);
    expect((await t.ok(`{ lists { id publicToken } }`)).lists).toEqual([{ id: list.id, publicToken: list.publicToken }]);

    const page = await fetch(list.formUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    const html = await page.text();
    expect(html).toContain(`<form method="post">`);
    expect(html).toContain(`&lt;b&gt;News &amp; &quot;Co&quot;&lt;/b&gt;`);
    expect(html).not.toContain("<b>News");

    // An HTML form post (what a browser sends).
    const formRes = await post(list.formUrl, new URLSearchParams({ email: "ada@example.com", firstName: "Ada", lastName: "Lovelace" }).toString(), FORM);
    expect(formRes.status).toBe(200);
    expect(formRes.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await formRes.text()).toContain("<strong>ada@example.com</strong> is subscribed to &lt;b&gt;News");

    // JSON, answered in JSON; an existing contact keeps its names (anyone can post a public form).
    const jsonRes = await post(list.formUrl, JSON.stringify({ email: "ADA@example.com", firstName: "Mallory" }), "application/json");
    expect(jsonRes.status).toBe(200);
    expect(await jsonRes.json()).toEqual({ subscribed: true, list: { name: list.name } });
    const jsonNew = await post(list.formUrl, JSON.stringify({ email: "grace@example.com" }), "application/json");
    expect(await jsonNew.json()).toEqual({ subscribed: true, list: { name: list.name } });

    const contacts = (await t.ok(`{ contacts { edges { node { id email firstName lastName lists { list { id } status } } } } }`)).contacts.edges.map((e: any) => e.node);
    expect(contacts.map((c: any) => [c.email, c.firstName, c.lastName, c.lists])).toEqual([
      ["ada@example.com", "Ada", "Lovelace", [{ list: { id: list.id }, status: "SUBSCRIBED" }]],
      ["grace@example.com", null, null, [{ list: { id: list.id }, status: "SUBSCRIBED" }]],
    ]);
    const events = (await allEvents(t)).filter((e) => e.type.startsWith("contact."));
    expect(events.map((e) => [e.type, e.source, e.data.email])).toEqual([
      ["contact.created", "public", "ada@example.com"],
      ["contact.subscribed", "public", "ada@example.com"],
      ["contact.created", "public", "grace@example.com"],
      ["contact.subscribed", "public", "grace@example.com"],
    ]);

    // Validation: stable codes in JSON; the HTML form again, with the message and the escaped input.
    const bad = await post(list.formUrl, JSON.stringify({ email: "not an email" }), "application/json");
    expect(bad.status).toBe(400);
    const badBody = await bad.json();
    expect(badBody.errors[0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "email" });
    const badHtml = await post(list.formUrl, new URLSearchParams({ email: `"><script>alert(1)</script>` }).toString(), FORM);
    expect(badHtml.status).toBe(400);
    const badText = await badHtml.text();
    expect(badText).toContain(`value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`);
    expect(badText).not.toContain("<script>");
    expect(badText).toContain(`role="alert"`);
    const missing = await post(list.formUrl, JSON.stringify({}), "application/json", "application/json");
    expect((await missing.json()).errors[0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "email" });
    expect((await post(list.formUrl, "[1]", "application/json")).status).toBe(400);
    expect((await post(list.formUrl, "email=x@example.com", "text/plain")).status).toBe(415);
    expect((await fetch(list.formUrl, { method: "DELETE" })).status).toBe(405);

    // An unknown token (or a list id) is not found, in either format.
    const unknown = await post(`${t.url}/f/${list.id}`, JSON.stringify({ email: "x@example.com" }), "application/json");
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).errors[0].extensions.code).toBe("NOT_FOUND");
    expect((await fetch(`${t.url}/f/${"A".repeat(32)}`)).status).toBe(404);
    expect((await fetch(`${t.url}/f/${"A".repeat(32)}`, { headers: { accept: "application/json" } })).headers.get("content-type")).toMatch(/json/);

    // Another account's form creates the contact in that account only.
    const other = await t.newAccount("other");
    const otherList = await newList(t, "theirs", other.apiKey);
    await post(otherList.formUrl, JSON.stringify({ email: "zoe@example.com" }), "application/json");
    const theirs = (await t.ok(`{ contacts { edges { node { email lists { list { id } } } } } }`, {}, other.apiKey)).contacts.edges.map((e: any) => e.node);
    expect(theirs).toEqual([{ email: "zoe@example.com", lists: [{ list: { id: otherList.id } }] }]);
    expect((await t.ok(`{ contacts { edges { node { email } } } }`)).contacts.edges).toHaveLength(2);
    // The public routes never read credentials, and /graphql still refuses a form post (CSRF prevention).
    const csrf = await fetch(`${t.url}/graphql`, { method: "POST", headers: { "content-type": FORM, authorization: `Bearer ${t.apiKey}` }, body: "query=%7Bme%7Bid%7D%7D" });
    expect(csrf.status).toBe(400);
  });

  it("the unsubscribe link: GET only confirms; POST unsubscribes from every list or one, with source public", async () => {
    const { t } = await setup();
    const news = await newList(t, "news");
    const deals = await newList(t, "deals");
    const c = (await t.ok(`mutation { createContact(input: { email: "o'brien&co@example.com" }) { id unsubscribeToken unsubscribeUrl } }`)).createContact;
    expect(c.unsubscribeToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(c.unsubscribeUrl).toBe(`${t.url}/u/${c.unsubscribeToken}`);
    const other = (await t.ok(`mutation { createContact(input: { email: "bob@example.com" }) { unsubscribeToken } }`)).createContact;
    expect(other.unsubscribeToken).not.toBe(c.unsubscribeToken);
    for (const l of [news, deals]) await t.ok(`mutation($c: ID!, $l: ID!) { subscribeContact(contactId: $c, listId: $l) { id } }`, { c: c.id, l: l.id });
    // The token is not part of event data (events go to every hook and stream).
    const before = await allEvents(t);
    expect(JSON.stringify(before)).not.toContain(c.unsubscribeToken);

    const page = await fetch(c.unsubscribeUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
    const html = await page.text();
    expect(html).toContain("o&#39;brien&amp;co@example.com");
    expect(html).toContain(`<form method="post">`);
    // A GET (a mail scanner prefetching the link) changes nothing.
    expect((await readContact(t, c.id)).lists.map((x: any) => x.status)).toEqual(["SUBSCRIBED", "SUBSCRIBED"]);
    const asJson = await (await fetch(c.unsubscribeUrl, { headers: { accept: "application/json" } })).json();
    expect(asJson).toEqual({
      email: "o'brien&co@example.com",
      lists: [news, deals].sort((a, b) => (a.id < b.id ? -1 : 1)).map((l) => ({ id: l.id, name: l.name, status: "SUBSCRIBED" })),
    });

    // One list (JSON), then every list (an HTML form post: what the confirmation page sends).
    const one = await post(c.unsubscribeUrl, JSON.stringify({ list: deals.id }), "application/json");
    expect(one.status).toBe(200);
    expect((await one.json()).unsubscribed).toEqual([deals.id]);
    const all = await post(c.unsubscribeUrl, "", FORM);
    expect(all.status).toBe(200);
    expect(await all.text()).toContain("is unsubscribed from news");
    // RFC 8058 one-click: nothing left to do, still 200.
    expect((await post(c.unsubscribeUrl, "List-Unsubscribe=One-Click", FORM)).status).toBe(200);
    expect((await readContact(t, c.id)).lists.map((x: any) => x.status)).toEqual(["UNSUBSCRIBED", "UNSUBSCRIBED"]);

    const after = (await allEvents(t)).slice(before.length);
    expect(after.map((e) => [e.type, e.source, e.listId])).toEqual([
      ["contact.unsubscribed", "public", deals.id],
      ["contact.unsubscribed", "public", news.id],
    ]);

    // A list the contact is not on, an unknown token, a malformed one.
    const stranger = await post(`${t.url}/u/${other.unsubscribeToken}`, JSON.stringify({ list: news.id }), "application/json");
    expect(stranger.status).toBe(404);
    expect((await stranger.json()).errors[0].extensions).toEqual({ code: "NOT_FOUND", field: "list" });
    expect((await post(`${t.url}/u/${"B".repeat(32)}`, "", FORM)).status).toBe(404);
    expect((await fetch(`${t.url}/u/%E0%A4%A`)).status).toBe(404);
  });

  it("the sources filter, end to end with all four sources (public form, admin key, api key, system bounce)", async () => {
    const { t, r } = await setup();
    const accountId = (await t.ok(`{ me { id } }`)).me.id;
    const admin = await createApiKey(t.app.deps.db, accountId, "admin");
    const list = await newList(t, "news");
    const paths = { PUBLIC: "/public", ADMIN: "/admin", API: "/api", SYSTEM: "/system" } as const;
    for (const [source, path] of Object.entries(paths)) {
      await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input: { url: `${r.url}${path}`, sources: [source], events: ["contact.created", "contact.bounced", "contact.updated", "contact.unsubscribed"] } });
    }
    await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input: { url: `${r.url}/all`, events: ["contact.created", "contact.bounced", "contact.updated", "contact.unsubscribed"] } });

    await post(list.formUrl, JSON.stringify({ email: "public@example.com" }), "application/json");
    const link = (await t.ok(`{ contacts(filter: { email: "public@example.com" }) { edges { node { unsubscribeUrl } } } }`)).contacts.edges[0].node.unsubscribeUrl;
    expect((await post(link, "List-Unsubscribe=One-Click", FORM)).status).toBe(200);
    const byAdmin = (await t.ok(`mutation { createContact(input: { email: "admin@example.com" }) { id } }`, {}, admin.apiKey)).createContact.id;
    const byApi = (await t.ok(`mutation { createContact(input: { email: "api@example.com" }) { id } }`)).createContact.id;
    // recordBounce is system whoever calls it (here: the admin key).
    await t.ok(`mutation($c: ID!) { recordBounce(contactId: $c) { id } }`, { c: byApi }, admin.apiKey);
    await t.ok(`mutation($c: ID!) { updateContact(id: $c, input: { firstName: "Ad" }) { id } }`, { c: byAdmin }, admin.apiKey);

    await waitFor(() => r.webhooks.filter((w) => w.path === "/all").length === 6);
    await waitFor(() => r.webhooks.filter((w) => w.path !== "/all").length === 6);
    const seen = (path: string) => r.webhooks.filter((w) => w.path === path).map((w) => [w.json.source, w.json.type, w.json.data.email]).sort();
    expect(seen("/public")).toEqual([["public", "contact.created", "public@example.com"], ["public", "contact.unsubscribed", "public@example.com"]]);
    expect(seen("/admin")).toEqual([["admin", "contact.created", "admin@example.com"], ["admin", "contact.updated", "admin@example.com"]]);
    expect(seen("/api")).toEqual([["api", "contact.created", "api@example.com"]]);
    expect(seen("/system")).toEqual([["system", "contact.bounced", "api@example.com"]]);
    expect(seen("/all").map((x) => x[0]).sort()).toEqual(["admin", "admin", "api", "public", "public", "system"]);
  });

  it("HOOKCAST_PUBLIC_URL is the base of form URLs, unsubscribe links and skinny payloads' fetch.url", async () => {
    const { t, r } = await setup({ HOOKCAST_PUBLIC_URL: "https://hooks.example.com/base/" });
    const list = await newList(t, "news");
    expect(list.formUrl).toBe(`https://hooks.example.com/base/f/${list.publicToken}`);
    await t.ok(`mutation($input: CreateHookInput!) { createHook(input: $input) { hook { id } } }`, { input: { url: `${r.url}/skinny`, payload: "SKINNY" } });
    const c = (await t.ok(`mutation { createContact(input: { email: "ada@example.com" }) { id unsubscribeToken unsubscribeUrl } }`)).createContact;
    expect(c.unsubscribeUrl).toBe(`https://hooks.example.com/base/u/${c.unsubscribeToken}`);
    const got = await waitFor(() => r.webhooks[0]);
    expect(got.json.fetch.url).toBe("https://hooks.example.com/base/graphql");
  });
});
