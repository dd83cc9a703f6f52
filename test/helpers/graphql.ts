import { expect } from "vitest";
import type { GqlResult, TestApp } from "./app.js";

/** Every field of `Contact`: the full rendering that event `data` must equal. */
export const CONTACT_FIELDS =
  "id email firstName lastName phone fields tags lists { list { id name createdAt } status subscribedAt unsubscribedAt } bounceCount bouncedAt createdAt updatedAt";

/** Every field of `Event`. */
export const EVENT_FIELDS = "id cursor type source sequence occurredAt listId tag data";

/** An event node as the `events` query returns it. */
export interface EventNode {
  id: string;
  cursor: string;
  type: string;
  source: string;
  sequence: number;
  occurredAt: string;
  listId: string | null;
  tag: string | null;
  data: any;
}

/** The full rendering of one contact (throws on errors). */
export async function readContact(t: TestApp, id: string, apiKey?: string): Promise<any> {
  const data = await t.ok(`query($id: ID!) { contact(id: $id) { ${CONTACT_FIELDS} } }`, { id }, apiKey);
  return data.contact;
}

/** Creates a contact with `input`; returns its full rendering. */
export async function createContact(t: TestApp, input: Record<string, unknown>, apiKey?: string): Promise<any> {
  const data = await t.ok(`mutation($input: CreateContactInput!) { createContact(input: $input) { ${CONTACT_FIELDS} } }`, { input }, apiKey);
  return data.createContact;
}

/** Creates a list; returns `{ id name createdAt }`. */
export async function createList(t: TestApp, name: string, apiKey?: string): Promise<{ id: string; name: string; createdAt: string }> {
  const data = await t.ok(`mutation($name: String!) { createList(input: { name: $name }) { id name createdAt } }`, { name }, apiKey);
  return data.createList;
}

/** One page of the account's event log. */
export async function eventsPage(
  t: TestApp,
  args: { after?: string | null; first?: number; types?: string[] } = {},
  apiKey?: string,
): Promise<{ edges: Array<{ cursor: string; node: EventNode }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } }> {
  const data = await t.ok(
    `query($after: String, $first: Int, $types: [String!]) { events(after: $after, first: $first, types: $types) { edges { cursor node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
    args,
    apiKey,
  );
  return data.events;
}

/** The whole event log of the account (paged by 500), oldest first. */
export async function allEvents(t: TestApp, apiKey?: string, types?: string[]): Promise<EventNode[]> {
  const out: EventNode[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await eventsPage(t, { after, first: 500, types }, apiKey);
    out.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return out;
    after = page.pageInfo.endCursor;
  }
}

/** Asserts that a GraphQL result failed with `code` (and `field`, when given); returns the error. */
export function expectError(result: GqlResult, code: string, field?: string): NonNullable<GqlResult["errors"]>[number] {
  expect(result.errors, `expected ${code}, got ${JSON.stringify(result)}`).toBeDefined();
  const [error] = result.errors!;
  expect(error.extensions?.code, JSON.stringify(error)).toBe(code);
  if (field !== undefined) expect(error.extensions?.field, JSON.stringify(error)).toBe(field);
  expectClean(result);
  return error;
}

// What must never reach a client: SQL, driver codes and messages, stack frames.
const LEAKS = [/\bINSERT\b/i, /\bSELECT\b/i, /\bUPDATE\s+`?\w+`?\s+SET\b/i, /\bER_[A-Z_]+/, /SQLITE/i, /QueryFailedError/, /\bat .+\.[jt]s:\d+/, /node_modules/, /Duplicate entry/i, /UNIQUE constraint/i];

/** Asserts that no error of `result` carries SQL, driver text or a stack trace. */
export function expectClean(result: GqlResult): void {
  for (const error of result.errors ?? []) {
    const text = JSON.stringify(error);
    for (const leak of LEAKS) expect(text, `error leaks ${leak}: ${text}`).not.toMatch(leak);
    expect(error.extensions ?? {}).not.toHaveProperty("stacktrace");
    expect(error.extensions ?? {}).not.toHaveProperty("exception");
  }
}

interface IntrospectedTypeRef {
  kind: string;
  name: string | null;
  ofType: IntrospectedTypeRef | null;
}
interface IntrospectedField {
  name: string;
  args: Array<{ type: IntrospectedTypeRef }>;
  type: IntrospectedTypeRef;
}

const INTROSPECT_FIELDS = `{ __schema { types { name kind fields(includeDeprecated: true) { name args { type { kind } } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`;

/**
 * A selection set of every field of `typeName` in the running schema (read by introspection), and
 * of every object type reachable from it, each type at most once on a path and at most `depth`
 * levels deep. Fields with a required argument are left out (none of the output types has one).
 */
export async function selectAll(t: TestApp, typeName: string, depth = 5): Promise<string> {
  const { __schema } = await t.ok(INTROSPECT_FIELDS);
  const types = new Map<string, { kind: string; fields: IntrospectedField[] | null }>(__schema.types.map((ty: any) => [ty.name, ty]));
  const named = (ref: IntrospectedTypeRef): IntrospectedTypeRef => (ref.ofType ? named(ref.ofType) : ref);
  const build = (name: string, path: string[]): string => {
    const type = types.get(name);
    if (!type?.fields) throw new Error(`selectAll: ${name} is not an object type`);
    const parts: string[] = [];
    for (const field of type.fields) {
      if (field.args.some((a) => a.type.kind === "NON_NULL")) continue;
      const inner = named(field.type);
      if (inner.kind === "OBJECT") {
        if (path.includes(inner.name!) || path.length >= depth) continue;
        parts.push(`${field.name} { ${build(inner.name!, [...path, inner.name!])} }`);
      } else if (inner.kind === "INTERFACE" || inner.kind === "UNION") {
        throw new Error(`selectAll: ${name}.${field.name} is abstract; extend selectAll`);
      } else {
        parts.push(field.name);
      }
    }
    return parts.join(" ");
  };
  return build(typeName, [typeName]);
}
