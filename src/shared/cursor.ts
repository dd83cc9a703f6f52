import { AppError } from "./errors.js";

/**
 * Opaque cursors: base64url of `<kind>:<value>`. Clients must treat them as strings; the kind
 * stops a contacts cursor from being used on events.
 */
export function encodeCursor(kind: string, value: string | number): string {
  return Buffer.from(`${kind}:${value}`, "utf8").toString("base64url");
}

/** Decodes a cursor of `kind`; `INVALID_CURSOR` (on `field`) when it is anything else. */
export function decodeCursor(kind: string, cursor: string, field = "after"): string {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const prefix = `${kind}:`;
  if (!text.startsWith(prefix) || text.length === prefix.length) {
    throw new AppError("INVALID_CURSOR", `${field} is not a valid cursor`, { field });
  }
  return text.slice(prefix.length);
}

/** Decodes a sequence cursor (events) to a non-negative integer. */
export function decodeSequenceCursor(cursor: string, field = "after"): number {
  const value = decodeCursor("seq", cursor, field);
  if (!/^\d{1,15}$/.test(value)) throw new AppError("INVALID_CURSOR", `${field} is not a valid cursor`, { field });
  return Number(value);
}

/** The cursor of an event with this per-account sequence. */
export function sequenceCursor(sequence: number): string {
  return encodeCursor("seq", sequence);
}
