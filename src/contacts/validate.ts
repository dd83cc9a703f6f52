import { badInput } from "../shared/errors.js";

/** Limits of contact input; documented in the schema descriptions and docs/errors.md. */
export const LIMITS = {
  email: 254,
  name: 255,
  phone: 64,
  fieldsBytes: 16_384, // 16 KB of JSON
  fieldsDepth: 32, // levels of nested objects/arrays in fields
  tag: 100,
  tagsPerContact: 200,
  listName: 200,
} as const;

// Pragmatic address syntax: local@domain.tld, no spaces or control characters, one @.
const EMAIL = /^[^\s@<>()[\]\\,;:"\u0000-\u001f]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** A trimmed, syntactically valid email; `BAD_USER_INPUT` on `field` otherwise. */
export function checkEmail(value: string, field: string): string {
  const email = value.trim();
  if (email.length === 0) throw badInput(field, "email is required");
  if (email.length > LIMITS.email) throw badInput(field, `email must be at most ${LIMITS.email} characters`);
  const local = email.slice(0, email.lastIndexOf("@"));
  if (!EMAIL.test(email) || local.length > 64 || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    throw badInput(field, `${JSON.stringify(email)} is not a valid email address`);
  }
  return email;
}

/** A trimmed optional string of at most `max` characters; empty becomes null. */
export function checkText(value: string | null | undefined, field: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text.length > max) throw badInput(field, `${field.split(".").pop()} must be at most ${max} characters`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) throw badInput(field, "control characters are not allowed");
  return text.length === 0 ? null : text;
}

/** How deeply `value` nests objects and arrays (iterative: a hostile depth must not overflow the stack). */
function nestingDepth(value: unknown, stopAt: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > stopAt) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** A JSON object of bounded size and nesting. */
export function checkFields(value: unknown, field: string): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw badInput(field, "fields must be a JSON object");
  // Before serializing: JSON.stringify of a few thousand levels overflows the stack.
  if (nestingDepth(value, LIMITS.fieldsDepth) > LIMITS.fieldsDepth) throw badInput(field, `fields must nest at most ${LIMITS.fieldsDepth} levels`);
  const size = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (size > LIMITS.fieldsBytes) throw badInput(field, `fields must be at most ${LIMITS.fieldsBytes} bytes of JSON (got ${size})`);
  return value as Record<string, unknown>;
}

/** A tag: trimmed, 1..100 characters, no control characters. */
export function checkTag(value: string, field: string): string {
  const tag = checkText(value, field, LIMITS.tag);
  if (!tag) throw badInput(field, "tag must not be empty");
  return tag;
}
