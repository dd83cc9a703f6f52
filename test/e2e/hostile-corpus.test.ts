import { createHash } from "node:crypto";
import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENTITIES } from "../../src/db/entities.js";
import { ERROR_CODES } from "../../src/shared/errors.js";
import { DRIVERS } from "../helpers/db.js";
import { BOOTSTRAP_KEY, loopbackOnlyDial, startTestApp, waitFor, type TestApp } from "../helpers/app.js";
import { createContact, createList } from "../helpers/graphql.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

/**
 * A corpus of hostile and malformed GraphQL HTTP requests, generated from categories, replayed
 * against the real server on both drivers. Every answer must be a 4xx, or a GraphQL answer whose
 * errors all carry a documented code (never INTERNAL_SERVER_ERROR: bad input deserves a clear
 * code); never a 5xx, a stack trace, SQL or a signing secret. The database (every table's
 * content, by checksum) must not change unless the request was valid, and the server must still
 * answer afterwards.
 */

/** One raw request of the corpus. `ids` are filled in once the fixtures exist. */
interface Case {
  category: string;
  name: string;
  method?: string;
  /** Query string, with the leading `?`. */
  search?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

interface Fixtures {
  contactId: string;
  listId: string;
  /** An ACTIVE hook with a real signing secret, aimed at by the hook cases. */
  hookId: string;
}

const JSON_TYPE = { "content-type": "application/json" };
const AUTH = { authorization: `Bearer ${BOOTSTRAP_KEY}` };

/** Codes an answer may carry: ours (but the masked one), and Apollo's documented persisted-query codes. */
const ALLOWED_CODES = new Set([...Object.keys(ERROR_CODES).filter((c) => c !== "INTERNAL_SERVER_ERROR"), "PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED"]);

// What must never reach a client: SQL, driver codes and messages, stack frames, file paths.
const LEAKS = [/\bINSERT INTO\b/i, /\bSELECT\b.+\bFROM\b/i, /\bUPDATE\s+`?\w+`?\s+SET\b/i, /\bER_[A-Z_]+/, /SQLITE_/i, /QueryFailedError/, /\bat .+\.[jt]s:\d+/, /node_modules/, /Duplicate entry/i, /UNIQUE constraint/i, /\/work\//, /\bsrc\/\w+/];

/** A deterministic pseudo-random generator (mulberry32): the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const post = (category: string, name: string, payload: unknown, headers: Record<string, string> = {}): Case => ({
  category,
  name,
  headers: { ...JSON_TYPE, ...AUTH, ...headers },
  body: JSON.stringify(payload),
});

/** Odd strings: control and null characters, unicode oddities, lone surrogates, homoglyphs. */
const ODD_STRINGS = [
  "\u0000",
  "a\u0000b",
  "\u0000@example.com",
  "\u202eevil\u202c",
  "zero\u200bwidth",
  "\ufeffbom",
  "\ud800",
  "\udfff lone",
  "😀🔥👩‍👩‍👧‍👦",
  "e\u0301",
  "\uffff\ufffe",
  "line\u2028sep\u2029",
  "аdmin@example.com", // Cyrillic а
  "ﬁ@example.com",
  "tab\tand\nnewline",
  "\u001b[31mred",
  "%00%0d%0a",
  "' OR 1=1 --",
  "\"; DROP TABLE contacts; --",
  "${jndi:ldap://127.0.0.1/a}",
  "<script>alert(1)</script>",
  "../../etc/passwd",
  "\\",
  "   ",
];

const HOSTILE_URLS = [
  "file:///etc/passwd",
  "gopher://127.0.0.1:6379/_FLUSHALL",
  "ftp://127.0.0.1/",
  "javascript:alert(1)",
  "data:text/html,<h1>x</h1>",
  "dict://127.0.0.1:11211/",
  "ws://127.0.0.1/",
  "http://user:pass@127.0.0.1/",
  "http://127.0.0.1/",
  "http://127.0.0.1:6379/",
  "http://2130706433/",
  "http://0177.0.0.1/",
  "http://0x7f.1/",
  "http://0x7f000001/",
  "http://127.1/",
  "http://127.0.0.1./",
  "http://%31%32%37.0.0.1/",
  "http://[::1]/",
  "http://[::ffff:127.0.0.1]/",
  "http://[::ffff:7f00:1]/",
  "http://[::127.0.0.1]/",
  "http://[64:ff9b::7f00:1]/",
  "http://[2002:7f00:1::]/",
  "http://[fe80::1]/",
  "http://[fd00::1]/",
  "http://[::]/",
  "http://169.254.169.254/latest/meta-data/",
  "http://[::ffff:169.254.169.254]/",
  "http://100.64.0.1/",
  "http://0.0.0.0/",
  "http://0/",
  "http://10.0.0.1/",
  "http://172.16.0.1/",
  "http://192.168.1.1/",
  "http://224.0.0.1/",
  "http://255.255.255.255/",
  "http://localhost/",
  "http://localhost.localdomain:4000/",
  "http://metadata.google.internal/computeMetadata/v1/",
  "http://127.0.0.1.nip.io/",
  "http://rebind.example/",
  `http://${"a".repeat(3_000)}.example/`,
  "http://",
  "http:///hook",
  "//127.0.0.1/",
  "127.0.0.1",
  "",
  "   ",
  "http://[::1",
  "http://127.0.0.1:99999/",
  "http://exa mple.com/",
  "http://\u0000/",
  "HTTP://127.0.0.1/",
  "https://[::ffff:a9fe:a9fe]/",
];

/** The corpus: built from categories, programmatically. */
function buildCorpus(): Case[] {
  const cases: Case[] = [];
  const random = prng(4);
  const randomText = (length: number) => Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 0x3000))).join("");

  // 1. Invalid JSON bodies.
  const invalidJson = [
    "",
    "{",
    "}",
    "[",
    '{"query":',
    "{'query':'{ me { id } }'}",
    '{"query": "{ me { id } }",}',
    '{"query": "{ me { id } }"} trailing',
    "\ufeff{\"query\": \"{ me { id } }\"}",
    "NaN",
    "undefined",
    '{"query": "\\u00"}',
    '{"query": "\\x41"}',
    "[".repeat(100_000),
    '{"a":'.repeat(20_000),
    "null",
    "true",
    "0",
    "-1e999",
    '"{ me { id } }"',
    "{}",
    '{"query": 1}',
  ];
  invalidJson.forEach((body, i) => cases.push({ category: "invalid JSON", name: `#${i}`, headers: { ...JSON_TYPE, ...AUTH }, body }));
  for (let i = 0; i < 20; i++) cases.push({ category: "invalid JSON", name: `random text ${i}`, headers: { ...JSON_TYPE, ...AUTH }, body: randomText(1 + Math.floor(random() * 200)) });
  for (let i = 0; i < 10; i++) {
    cases.push({ category: "invalid JSON", name: `random bytes ${i}`, headers: { ...JSON_TYPE, ...AUTH }, body: Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))) });
  }
  cases.push({ category: "invalid JSON", name: "invalid UTF-8 in a string", headers: { ...JSON_TYPE, ...AUTH }, body: Buffer.concat([Buffer.from('{"query": "{ me { id } }", "operationName": "'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]) });

  // 2. Content types, for a query and for a mutation.
  const contentTypes = ["", "text/plain", "text/html", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/graphql", "application/xml", "application/json; charset=utf-16", "APPLICATION/JSON", "application/jsonp", "application/vnd.api+json", "image/png", ";;;", "application/json, text/plain", "application/graphql-response+json", "text/plain; application/json"];
  for (const type of contentTypes) {
    for (const query of ["{ me { id } }", 'mutation { createList(input: { name: "content-type" }) { id } }']) {
      cases.push({ category: "content type", name: `${JSON.stringify(type)} ${query.slice(0, 10)}`, headers: { ...AUTH, ...(type ? { "content-type": type } : {}) }, body: JSON.stringify({ query }) });
    }
  }
  cases.push({ category: "content type", name: "form-encoded query", headers: { ...AUTH, "content-type": "application/x-www-form-urlencoded" }, body: "query=%7B+me+%7B+id+%7D+%7D" });

  // 3. Wrong variable types, for every operation that takes variables.
  const wrongValues: unknown[] = [null, 0, 1.5, -1, 2 ** 31, 2 ** 53, "x", "", true, [], [1], ["a", "b"], {}, { a: 1 }, "1e309", { $gt: "" }];
  const operations: Array<[string, (v: unknown, f: Fixtures) => Record<string, unknown>]> = [
    [`mutation($input: CreateContactInput!) { createContact(input: $input) { id } }`, (v) => ({ input: v })],
    [`mutation($e: String!) { createContact(input: { email: $e }) { id } }`, (v) => ({ e: v })],
    [`mutation($f: JSONObject) { createContact(input: { email: "wrong-types@example.com", fields: $f }) { id } }`, (v) => ({ f: v })],
    [`mutation($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { id } }`, (v, f) => ({ id: f.contactId, input: v })],
    [`mutation($id: ID!) { updateContact(id: $id, input: { firstName: "x" }) { id } }`, (v) => ({ id: v })],
    [`mutation($input: CreateListInput!) { createList(input: $input) { id } }`, (v) => ({ input: v })],
    [`mutation($c: ID!, $t: String!) { tagContact(contactId: $c, tag: $t) { id } }`, (v, f) => ({ c: f.contactId, t: v })],
    [`query($n: Int, $a: String) { contacts(first: $n, after: $a) { edges { node { id } } } }`, (v) => ({ n: v, a: v })],
    [`query($f: ContactFilter) { contacts(filter: $f) { edges { node { id } } } }`, (v) => ({ f: v })],
    [`query($n: Int, $t: [String!]) { events(first: $n, types: $t) { edges { node { id } } } }`, (v) => ({ n: v, t: v })],
    [`query($h: ID!, $s: DeliveryStatus) { deliveries(hookId: $h, status: $s) { edges { node { id } } } }`, (v) => ({ h: v, s: v })],
    [`mutation($input: CreateHookInput!) { createHook(input: $input) { secret } }`, (v) => ({ input: v })],
    [`mutation($id: ID!, $g: Int) { rotateHookSecret(id: $id, gracePeriodSeconds: $g) { secret } }`, (v, f) => ({ id: f.hookId, g: v })],
    [`mutation($h: ID!, $a: String) { replayEvents(hookId: $h, after: $a) }`, (v) => ({ h: v, a: v })],
    [`query($id: ID!) { contact(id: $id) { id } }`, (v) => ({ id: v })],
  ];
  operations.forEach(([query, vars], i) => {
    wrongValues.forEach((value, j) => cases.push({ ...post("wrong variable types", `op ${i} value ${j}`, { query, variables: vars(value, { contactId: "$contactId", listId: "$listId", hookId: "$hookId" }) }) }));
  });
  cases.push(post("wrong variable types", "undeclared variable", { query: "{ contact(id: $nope) { id } }", variables: { nope: "x" } }));
  cases.push(post("wrong variable types", "variables a string", { query: "{ me { id } }", variables: "{}" }));
  cases.push(post("wrong variable types", "variables an array", { query: "{ me { id } }", variables: [1, 2] }));
  cases.push(post("wrong variable types", "literal of the wrong type", { query: '{ contacts(first: "ten") { edges { node { id } } } }' }));
  cases.push(post("wrong variable types", "enum as a string", { query: '{ deliveries(hookId: "x", status: "DEAD") { edges { node { id } } } }' }));

  // 4. Huge strings.
  for (const n of [255, 300, 10_000, 500_000]) cases.push(post("huge strings", `email ${n}`, { query: "mutation($e: String!) { createContact(input: { email: $e }) { id } }", variables: { e: `${"a".repeat(n)}@example.com` } }));
  for (const n of [256, 100_000, 900_000]) cases.push(post("huge strings", `firstName ${n}`, { query: 'mutation($n: String) { createContact(input: { email: "huge@example.com", firstName: $n }) { id } }', variables: { n: "x".repeat(n) } }));
  for (const n of [101, 100_000]) cases.push(post("huge strings", `tag ${n}`, { query: "mutation($c: ID!, $t: String!) { tagContact(contactId: $c, tag: $t) { id } }", variables: { c: "$contactId", t: "t".repeat(n) } }));
  for (const n of [201, 100_000]) cases.push(post("huge strings", `list name ${n}`, { query: "mutation($n: String!) { createList(input: { name: $n }) { id } }", variables: { n: "l".repeat(n) } }));
  cases.push(post("huge strings", "phone 65", { query: 'mutation { createContact(input: { email: "phone@example.com", phone: "' + "1".repeat(65) + '" }) { id } }' }));
  cases.push(post("huge strings", "id literal 500k", { query: `{ contact(id: "${"c".repeat(500_000)}") { id } }` }));
  cases.push(post("huge strings", "cursor 100k", { query: "query($a: String) { events(after: $a) { edges { node { id } } } }", variables: { a: "Y".repeat(100_000) } }));
  cases.push(post("huge strings", "filter email 100k", { query: "query($e: String) { contacts(filter: { email: $e }) { edges { node { id } } } }", variables: { e: "e".repeat(100_000) } }));
  cases.push(post("huge strings", "10k event types", { query: "query($t: [String!]) { events(types: $t) { edges { node { id } } } }", variables: { t: Array.from({ length: 10_000 }, (_, i) => `type.${i}`) } }));
  cases.push(post("huge strings", "operationName 100k", { query: "{ me { id } }", operationName: "o".repeat(100_000) }));
  cases.push(post("huge strings", "hook name 100k", { query: 'mutation($n: String) { createHook(input: { url: "http://10.0.0.1/", name: $n }) { secret } }', variables: { n: "n".repeat(100_000) } }));
  cases.push({ category: "huge strings", name: "body over 1 MB", headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify({ query: "{ me { id } }", variables: { pad: "p".repeat(1_100_000) } }) });

  // 5. Deep nesting.
  for (const depth of [11, 50, 1_000, 10_000]) cases.push(post("deep nesting", `braces ${depth}`, { query: "{ me ".repeat(depth) + "}".repeat(depth) }));
  for (const depth of [11, 100]) cases.push(post("deep nesting", `selections ${depth}`, { query: "{ contacts { edges { node { " + "lists { list { ".repeat(depth) + "id" + " } }".repeat(depth) + " } } } }" }));
  cases.push(post("deep nesting", "fragment cycle", { query: "{ me { ...A } } fragment A on Account { ...B } fragment B on Account { ...A }" }));
  cases.push(post("deep nesting", "self-spread fragment", { query: "{ me { ...A } } fragment A on Account { id ...A }" }));
  for (const depth of [100, 1_000, 5_000, 50_000]) {
    // Written by hand: JSON.stringify itself overflows the stack on the deepest.
    const nested = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    const query = JSON.stringify(`mutation($f: JSONObject) { createContact(input: { email: "deep${depth}@example.com", fields: $f }) { id } }`);
    cases.push({ category: "deep nesting", name: `fields depth ${depth}`, headers: { ...JSON_TYPE, ...AUTH }, body: `{"query": ${query}, "variables": {"f": ${nested}}}` });
  }
  cases.push(post("deep nesting", "nested list literal", { query: "{ events(types: " + "[".repeat(500) + '"x"' + "]".repeat(500) + ") { edges { node { id } } } }" }));
  cases.push(post("deep nesting", "deep object literal", { query: 'mutation { createContact(input: { email: "lit@example.com", fields: ' + "{ a: ".repeat(2_000) + "1" + " }".repeat(2_000) + " }) { id } }" }));
  {
    const nested = "[".repeat(50_000) + '"x"' + "]".repeat(50_000);
    const query = JSON.stringify("query($t: [String!]) { events(types: $t) { edges { node { id } } } }");
    cases.push({ category: "deep nesting", name: "deep array variable", headers: { ...JSON_TYPE, ...AUTH }, body: `{"query": ${query}, "variables": {"t": ${nested}}}` });
  }

  // 6. Aliases.
  const aliased = (n: number, selection: string) => Array.from({ length: n }, (_, i) => `a${i}: ${selection}`).join(" ");
  for (const n of [31, 100, 1_000, 3_000]) {
    cases.push(post("aliases", `${n} x me`, { query: `{ ${aliased(n, "me { id }")} }` }));
    cases.push(post("aliases", `${n} x contacts`, { query: `{ ${aliased(n, "contacts(first: 100) { edges { node { id email } } }")} }` }));
    cases.push(post("aliases", `${n} x createList`, { query: `mutation { ${aliased(n, 'createList(input: { name: "alias" }) { id }')} }` }));
  }
  cases.push(post("aliases", "10k __typename", { query: `{ ${aliased(10_000, "__typename")} }` }));
  cases.push(post("aliases", "30 x 500 events (cost)", { query: `{ ${aliased(30, "events(first: 500) { edges { cursor node { id type data } } }")} }` }));

  // 7. Null bytes.
  cases.push(post("null bytes", "in the query", { query: "{ me\u0000 { id } }" }));
  cases.push(post("null bytes", "in a string literal", { query: '{ contact(id: "a\u0000b") { id } }' }));
  cases.push(post("null bytes", "in operationName", { query: "query A { me { id } }", operationName: "A\u0000" }));
  cases.push(post("null bytes", "as a variable name", { query: "{ me { id } }", variables: { "\u0000": 1 } }));
  for (const [field, value] of [["email", "a\u0000@example.com"], ["firstName", "x\u0000y"], ["lastName", "\u0000"], ["phone", "+1\u0000"]] as const) {
    cases.push(post("null bytes", `in ${field}`, { query: "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }", variables: { input: { email: "nul@example.com", [field]: value } } }));
  }
  cases.push(post("null bytes", "in a tag", { query: "mutation($c: ID!) { tagContact(contactId: $c, tag: \"\\u0000\") { id } }", variables: { c: "$contactId" } }));
  cases.push(post("null bytes", "in a list name", { query: "mutation { createList(input: { name: \"a\\u0000b\" }) { id } }" }));
  cases.push(post("null bytes", "in a hook url", { query: 'mutation { createHook(input: { url: "http://10.0.0.1/\\u0000" }) { secret } }' }));
  cases.push(post("null bytes", "in a cursor", { query: 'query { events(after: "\\u0000") { edges { node { id } } } }' }));

  // 8. Odd unicode, in every text input and in the query itself.
  ODD_STRINGS.forEach((text, i) => {
    cases.push(post("odd unicode", `firstName #${i}`, { query: "mutation($e: String!, $n: String) { createContact(input: { email: $e, firstName: $n }) { id firstName } }", variables: { e: `odd${i}@example.com`, n: text } }));
    cases.push(post("odd unicode", `email #${i}`, { query: "mutation($e: String!) { createContact(input: { email: $e }) { id } }", variables: { e: text } }));
    cases.push(post("odd unicode", `tag #${i}`, { query: "mutation($c: ID!, $t: String!) { tagContact(contactId: $c, tag: $t) { tags } }", variables: { c: "$contactId", t: text } }));
    cases.push(post("odd unicode", `list name #${i}`, { query: "mutation($n: String!) { createList(input: { name: $n }) { id } }", variables: { n: `${text} ${i}` } }));
    cases.push(post("odd unicode", `fields key #${i}`, { query: "mutation($id: ID!, $f: JSONObject) { updateContact(id: $id, input: { fields: $f }) { fields } }", variables: { id: "$contactId", f: { [text]: text } } }));
    cases.push(post("odd unicode", `in the query #${i}`, { query: `{ me { id ${text} } }` }));
    cases.push(post("odd unicode", `as an id #${i}`, { query: "query($id: ID!) { contact(id: $id) { id } }", variables: { id: text } }));
  });

  // 9. Oversized or odd `fields`.
  const fieldsCases: Array<[string, unknown]> = [
    ["16 KB + 1", { k: "v".repeat(16_380) }],
    ["100 KB", { k: "v".repeat(100_000) }],
    ["900 KB", { k: "v".repeat(900_000) }],
    ["10k keys", Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))],
    ["array", [1, 2, 3]],
    ["string", "fields"],
    ["number", 42],
    ["__proto__", JSON.parse('{"__proto__": {"polluted": true}}')],
    ["constructor.prototype", { constructor: { prototype: { polluted: true } } }],
    ["100k nulls", { k: Array.from({ length: 100_000 }, () => null) }],
    ["huge number", { k: 1e308 }],
    ["nested arrays", { k: [[[[[[[[[[[]]]]]]]]]]] }],
  ];
  for (const [name, fields] of fieldsCases) {
    cases.push(post("oversized fields", `create: ${name}`, { query: "mutation($f: JSONObject) { createContact(input: { email: \"fields@example.com\", fields: $f }) { id } }", variables: { f: fields } }));
    cases.push(post("oversized fields", `update: ${name}`, { query: "mutation($id: ID!, $f: JSONObject) { updateContact(id: $id, input: { fields: $f }) { id } }", variables: { id: "$contactId", f: fields } }));
  }
  cases.push(post("oversized fields", "literal 20 KB", { query: `mutation { createContact(input: { email: "lit-fields@example.com", fields: { k: "${"v".repeat(20_000)}" } }) { id } }` }));

  // 10. Hostile hook URLs, on createHook and on updateHook (of a hook that does not exist, and of the fixture hook).
  for (const url of HOSTILE_URLS) {
    cases.push(post("hostile hook URLs", `createHook ${url.slice(0, 60)}`, { query: "mutation($url: String!) { createHook(input: { url: $url }) { secret hook { id } } }", variables: { url } }));
  }
  for (const url of HOSTILE_URLS.slice(0, 15)) {
    cases.push(post("hostile hook URLs", `updateHook ${url.slice(0, 60)}`, { query: "mutation($url: String) { updateHook(id: \"hook_01m8yj9t2cygsvrrv1z8jdztrb\", input: { url: $url }) { id } }", variables: { url } }));
    cases.push(post("hostile hook URLs", `updateHook of the fixture ${url.slice(0, 60)}`, { query: "mutation($id: ID!, $url: String) { updateHook(id: $id, input: { url: $url }) { id url } }", variables: { id: "$hookId", url } }));
  }

  // 11. Batched arrays.
  const batches: unknown[] = [[], [{}], [{ query: "{ me { id } }" }], [{ query: "{ me { id } }" }, { query: "{ me { id } }" }], [{ query: 'mutation { createList(input: { name: "batched" }) { id } }' }], [[{ query: "{ me { id } }" }]], [null], Array.from({ length: 1_000 }, () => ({ query: "{ me { id } }" })), ["{ me { id } }"], [1, 2, 3]];
  batches.forEach((batch, i) => cases.push({ category: "batched arrays", name: `#${i}`, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify(batch) }));

  // 12. Missing or bad auth, on a query and on a mutation.
  const badAuth: Array<Record<string, string>> = [
    {},
    { authorization: "" },
    { authorization: "Bearer" },
    { authorization: "Bearer " },
    { authorization: "Bearer x" },
    { authorization: `Bearer ${BOOTSTRAP_KEY}x` },
    { authorization: `Bearer ${BOOTSTRAP_KEY.slice(0, -1)}` },
    { authorization: `Basic ${Buffer.from("user:pass").toString("base64")}` },
    { authorization: `Token ${BOOTSTRAP_KEY}` },
    { authorization: `Bearer ${"k".repeat(8_000)}` },
    { authorization: `Bearer ${BOOTSTRAP_KEY.toUpperCase()}` },
    { "api-token": "" },
    { "api-token": "nope" },
    { "api-token": "' OR '1'='1" },
    { authorization: "Bearer hc_" },
  ];
  badAuth.forEach((headers, i) => {
    for (const query of ["{ me { id } }", 'mutation { createList(input: { name: "no-auth" }) { id } }']) {
      cases.push({ category: "missing auth", name: `#${i} ${query.slice(0, 8)}`, headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify({ query }) });
    }
  });
  cases.push({ category: "missing auth", name: "header over 16 KB", headers: { ...JSON_TYPE, authorization: `Bearer ${"k".repeat(20_000)}` }, body: JSON.stringify({ query: "{ me { id } }" }) });

  // 13. GET requests, mutations over GET, other methods.
  const get = (name: string, params: Record<string, string>, headers: Record<string, string> = { ...AUTH, "apollo-require-preflight": "1" }): Case => ({ category: "GET and methods", name, method: "GET", search: `?${new URLSearchParams(params)}`, headers });
  cases.push(get("mutation", { query: 'mutation { createList(input: { name: "get" }) { id } }' }));
  cases.push(get("mutation named", { query: 'query Q { me { id } } mutation M { createList(input: { name: "get" }) { id } }', operationName: "M" }));
  cases.push(get("mutation without preflight", { query: 'mutation { createList(input: { name: "get" }) { id } }' }, AUTH));
  cases.push(get("query without preflight", { query: "{ me { id } }" }, AUTH));
  cases.push(get("no query", {}));
  cases.push(get("bad variables JSON", { query: "query($id: ID!) { contact(id: $id) { id } }", variables: "{bad" }));
  cases.push(get("variables an array", { query: "{ me { id } }", variables: "[1]" }));
  cases.push(get("bad extensions", { query: "{ me { id } }", extensions: "{bad" }));
  cases.push(get("subscription", { query: "subscription { events { id } }" }));
  cases.push(get("unknown operation", { query: "{ me { id } }", operationName: "X" }));
  cases.push(get("huge query", { query: `{ ${"me { id } ".repeat(2_000)} }` }));
  cases.push(get("without auth", { query: "{ me { id } }" }, { "apollo-require-preflight": "1" }));
  for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
    cases.push({ category: "GET and methods", name: method, method, headers: { ...JSON_TYPE, ...AUTH }, body: JSON.stringify({ query: 'mutation { createList(input: { name: "method" }) { id } }' }) });
  }

  // 14. Odd request shapes.
  const shapes: Array<[string, unknown]> = [
    ["query a number", { query: 1 }],
    ["query an array", { query: ["{ me { id } }"] }],
    ["query an object", { query: { me: "id" } }],
    ["query null", { query: null }],
    ["query empty", { query: "" }],
    ["query whitespace", { query: "   " }],
    ["operationName a number", { query: "{ me { id } }", operationName: 1 }],
    ["operationName an object", { query: "{ me { id } }", operationName: {} }],
    ["extensions a string", { query: "{ me { id } }", extensions: "x" }],
    ["persisted query, unknown hash", { extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } }],
    ["persisted query, wrong hash", { query: "{ me { id } }", extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } }],
    ["persisted query, bad version", { query: "{ me { id } }", extensions: { persistedQuery: { version: 99, sha256Hash: "x" } } }],
    ["subscription over HTTP", { query: "subscription { events { id } }" }],
    ["two operations, none named", { query: "query A { me { id } } mutation B { createList(input: { name: \"two\" }) { id } }" }],
    ["unknown directive", { query: "{ me @evil { id } }" }],
    ["directive with a wrong argument", { query: '{ me @skip(if: "yes") { id } }' }],
    ["500 directives", { query: `{ me { id ${"@include(if: true) ".repeat(500)} } }` }],
    ["fragment on a wrong type", { query: "{ me { ...F } } fragment F on Contact { id }" }],
    ["duplicate variables", { query: "query($a: Int, $a: Int) { me { id } }" }],
    ["unused fragment", { query: "{ me { id } } fragment F on Account { id }" }],
    ["schema definition", { query: "type Query { x: Int }" }],
    ["unknown field", { query: "{ secrets { value } }" }],
    ["introspection of a hook secret", { query: '{ __type(name: "Hook") { fields { name } } }' }],
    ["number overflow literal", { query: "{ contacts(first: 99999999999999999999) { edges { node { id } } } }" }],
    ["float first", { query: "{ contacts(first: 1.5) { edges { node { id } } } }" }],
    ["negative first", { query: "{ events(first: -5) { edges { node { id } } } }" }],
    ["zero first", { query: "{ events(first: 0) { edges { node { id } } } }" }],
    ["forged cursor", { query: '{ contacts(after: "Y29uXzAwMA==") { edges { node { id } } } }' }],
    ["cursor of another kind", { query: '{ events(after: "ZGx2OmRsdl8x") { edges { node { id } } } }' }],
    ["unknown event type", { query: '{ events(types: ["contact.pwned"]) { edges { node { id } } } }' }],
    ["createHook unknown event", { query: 'mutation { createHook(input: { url: "http://10.0.0.1/", events: ["nope"] }) { secret } }' }],
    ["createHook empty sources", { query: 'mutation { createHook(input: { url: "http://10.0.0.1/", sources: [] }) { secret } }' }],
    ["rotate grace out of range", { query: 'mutation { rotateHookSecret(id: "hook_x", gracePeriodSeconds: -1) { secret } }' }],
    ["delete a contact twice-named", { query: 'mutation { a: deleteContact(id: "con_x") b: deleteContact(id: "con_y") }' }],
  ];
  for (const [name, payload] of shapes) cases.push(post("request shapes", name, payload));
  return cases;
}

/** One raw exchange; never throws for an HTTP answer, whatever its status. */
function send(url: string, c: Case, fixtures: Fixtures): Promise<{ status: number; text: string }> {
  const fill = (text: string) => text.replaceAll("$contactId", fixtures.contactId).replaceAll("$listId", fixtures.listId).replaceAll("$hookId", fixtures.hookId);
  const body = typeof c.body === "string" ? fill(c.body) : c.body;
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql${c.search ? fill(c.search) : ""}`, { method: c.method ?? "POST", headers: c.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const corpus = buildCorpus();

describe("the hostile corpus", () => {
  it("has at least 500 requests across every category", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    expect(new Set(corpus.map((c) => c.category)).size).toBe(14);
  });
});

describe.each(DRIVERS)("hostile requests on %s", (driver) => {
  let t: TestApp;
  let receiver: Receiver;
  let fixtures: Fixtures;
  /** Every signing secret the fixture hook has had: none may appear in any answer but its own. */
  const secrets: string[] = [];
  beforeAll(async () => {
    receiver = await startReceiver();
    const receiverPort = Number(new URL(receiver.url).port);
    t = await startTestApp(driver, {
      // Rate limiting would answer most of the corpus with 429; loopback and private targets are
      // refused as in production, and every name resolves to loopback (no DNS, no traffic out)
      // but the fixture hook's, whose public address the dialer sends to the loopback receiver.
      env: { HOOKCAST_RATE_LIMIT: "0", HOOKCAST_ALLOW_PRIVATE_TARGETS: "false" },
      overrides: {
        resolve: async (host) => [{ address: host === "hooks.example.test" ? "93.184.216.34" : "127.0.0.1", family: 4 }],
        dial: (options) => (options.host === "93.184.216.34" ? connect({ host: "127.0.0.1", port: receiverPort }) : loopbackOnlyDial(options)),
      },
    });
    const contact = await createContact(t, { email: "target@example.com", fields: { plan: "gold" } });
    const list = await createList(t, "target list");
    // The hook only follows a list the corpus never touches: no deliveries are written in the
    // background while the corpus runs.
    const hookList = await createList(t, "hook list");
    const hook = (await t.ok(`mutation($l: ID) { createHook(input: { url: "http://hooks.example.test/corpus", listId: $l }) { secret hook { id status } } }`, { l: hookList.id })).createHook;
    expect(hook.hook.status).toBe("ACTIVE");
    expect(hook.secret).toMatch(/^whsec_/);
    secrets.push(hook.secret);
    fixtures = { contactId: contact.id, listId: list.id, hookId: hook.hook.id };
  });
  afterAll(async () => {
    await t?.stop();
    await receiver?.stop();
  });

  /**
   * A checksum of every table's content (all columns, rows in primary-key order), one query per
   * table: an in-place UPDATE is caught as well as an INSERT or a DELETE. Raw SQL without
   * parameters, the same on both drivers.
   */
  const snapshot = async (): Promise<Record<string, string>> => {
    const { db } = t.app.deps;
    const tables = ENTITIES.map((entity) => db.dataSource.getMetadata(entity)).map((meta) => ({ name: meta.tableName, order: meta.primaryColumns.map((c) => c.databaseName).join(", ") }));
    // Nothing else writes while a refused request is checked, so the tables are read in parallel.
    const sums = await Promise.all(
      tables.map(async (table) => {
        const rows: unknown[] = await db.read((m) => m.query(`SELECT * FROM ${table.name} ORDER BY ${table.order}`));
        return [table.name, `${rows.length} rows, ${createHash("sha256").update(JSON.stringify(rows)).digest("hex").slice(0, 16)}`] as const;
      }),
    );
    return Object.fromEntries(sums);
  };

  /** Waits until the worker has fanned out every event (it flips `fanout_pending` in the background). */
  const settled = async (): Promise<Record<string, string>> => {
    const { db } = t.app.deps;
    const events = db.dataSource.getMetadata(ENTITIES.find((e) => e.name === "EventEntity")!).tableName;
    await waitFor(async () => Number((await db.read((m) => m.query(`SELECT COUNT(*) AS n FROM ${events} WHERE fanout_pending = 1`)))[0].n) === 0, { message: "events fanned out" });
    return snapshot();
  };

  it("answers every request with a 4xx or a documented code, writes only for valid requests, and keeps serving", async () => {
    const problems: string[] = [];
    const outcome = { valid: 0, refused: 0 };
    let before = await settled();
    const shownSecrets = { created: 0, rotated: 0 };
    for (const c of corpus) {
      const label = `[${c.category}] ${c.name}`;
      const { status, text } = await send(t.url, c, fixtures);
      for (const leak of LEAKS) if (leak.test(text)) problems.push(`${label}: leaks ${leak}: ${text.slice(0, 300)}`);
      // No secret the fixture hook has had, whole or without its prefix, in any answer; no
      // whsec_ at all but in the `secret` of a createHook or rotateHookSecret that succeeded.
      for (const secret of secrets) if (text.includes(secret.slice("whsec_".length))) problems.push(`${label}: leaks the hook's secret: ${text.slice(0, 300)}`);
      let json: any = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        problems.push(`${label}: not JSON (${status}): ${text.slice(0, 200)}`);
      }
      if (status >= 500) problems.push(`${label}: ${status}: ${text.slice(0, 300)}`);
      else if (status >= 400 && json && !json.errors?.length && !json.error) problems.push(`${label}: ${status} without errors: ${text.slice(0, 200)}`);
      else if (status < 400 && !json) problems.push(`${label}: ${status} with an empty body`);
      for (const error of json?.errors ?? []) {
        const code = error?.extensions?.code;
        if (!ALLOWED_CODES.has(code)) problems.push(`${label}: code ${code}: ${JSON.stringify(error).slice(0, 300)}`);
        if (error?.extensions?.stacktrace || error?.extensions?.exception) problems.push(`${label}: stack trace`);
      }
      const shown = [json?.data?.createHook?.secret, json?.data?.rotateHookSecret?.secret].filter((v): v is string => typeof v === "string");
      if (shown.reduce((rest, secret) => rest.replaceAll(secret, ""), text).includes("whsec_")) problems.push(`${label}: whsec_ outside a shown secret: ${text.slice(0, 300)}`);
      if (json?.data?.rotateHookSecret?.secret) shownSecrets.rotated++;
      if (json?.data?.createHook?.secret) shownSecrets.created++;
      secrets.push(...shown);
      // A valid request got data for at least one of its fields; anything else changed nothing.
      const valid = status === 200 && json?.data && Object.values(json.data).some((v) => v !== null);
      if (valid) {
        outcome.valid++;
        before = await settled();
      } else {
        outcome.refused++;
        const after = await snapshot();
        const changed = Object.keys(after).filter((table) => after[table] !== before[table]);
        if (changed.length) problems.push(`${label}: refused (${status}) but changed ${changed.map((table) => `${table} (${before[table]} → ${after[table]})`).join(", ")}`);
        before = after;
      }
    }
    expect(problems).toEqual([]);
    // Most of the corpus is refused, and some of it (odd but acceptable input) is valid.
    expect(outcome.refused).toBeGreaterThan(400);
    expect(outcome.valid).toBeGreaterThan(10);
    // The wrong-types cases with a null and a 0 grace period are valid rotations of the fixture
    // hook: its secrets changed and were shown there only. No createHook of the corpus passes.
    expect(shownSecrets).toEqual({ created: 0, rotated: 2 });
    expect(secrets).toHaveLength(3);
    expect(({} as any).polluted).toBeUndefined();

    // Still serving, and the target contact survived with its own data.
    expect((await t.ok(`{ me { id } }`)).me.id).toEqual(expect.any(String));
    expect((await t.ok(`query($id: ID!) { contact(id: $id) { email } }`, { id: fixtures.contactId })).contact.email).toBe("target@example.com");
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    // A few seconds per driver when the machine is idle; the margin is for a loaded CI machine.
  }, 180_000);
});
