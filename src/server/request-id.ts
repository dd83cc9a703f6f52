import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** The header that carries a request's id, in and out. */
export const REQUEST_ID_HEADER = "x-request-id";

// What a caller-given id may look like: a proxy's or client's id is kept only when it is short
// and plain, so that it cannot forge log lines or carry a payload.
const ACCEPTED = /^[A-Za-z0-9._:@/+=-]{1,64}$/;

/**
 * The id of a request: the caller's `x-request-id` when it is 1..64 plain characters (letters,
 * digits, `._:@/+=-`), else a new UUID. It is echoed in the response's `x-request-id` and set on
 * every log line of the request.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers[REQUEST_ID_HEADER];
  const value = Array.isArray(given) ? given[0] : given;
  return value && ACCEPTED.test(value) ? value : randomUUID();
}
