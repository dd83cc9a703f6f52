import { GraphQLError } from "graphql";

/**
 * Every error code a client can see in `extensions.code`. Stable: clients branch on them.
 * `docs/errors.md` lists them with their meaning; a test keeps the two in sync.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: "The API key is missing, malformed or unknown.",
  BAD_USER_INPUT: "An argument failed validation; `extensions.field` names it.",
  NOT_FOUND: "No such resource in the caller's account (ids of other accounts answer the same).",
  CONTACT_EXISTS: "A contact with this email already exists in the account.",
  LIST_EXISTS: "A list with this name already exists in the account.",
  HOOK_URL_INVALID: "The webhook URL is not an absolute http(s) URL of at most 2,048 characters without credentials.",
  HOOK_URL_REJECTED: "The webhook URL points at an address Hookcast refuses to call (loopback, private, link-local, ...).",
  HOOK_NOT_VERIFIABLE: "The hook cannot be verified in its current state.",
  INVALID_SELECTION: "A hook's `selection` is not one valid selection set on `Contact`; `extensions.locations` (line, column in the selection) and `extensions.graphqlMessage` say where and why.",
  INVALID_CURSOR: "The `after` cursor was not produced by this API.",
  GRAPHQL_PARSE_FAILED: "The query is not valid GraphQL syntax.",
  GRAPHQL_VALIDATION_FAILED: "The query does not match the schema.",
  BAD_REQUEST: "The HTTP request is not a GraphQL request.",
  OPERATION_RESOLUTION_FAILURE: "operationName does not name an operation of the document.",
  QUERY_TOO_DEEP: "The document nests fields deeper than the depth limit.",
  QUERY_TOO_COMPLEX: "The document's estimated cost (fields × page sizes) is over the cost limit.",
  TOO_MANY_ALIASES: "The document uses more aliases than the alias limit.",
  TOO_MANY_TOKENS: "The document has more lexical tokens than the token limit.",
  BATCHING_NOT_SUPPORTED: "The body is a JSON array (a batch of operations); send one operation per request.",
  PERSISTED_QUERY_NOT_SUPPORTED: "Automatic persisted queries are off: send the query text.",
  RATE_LIMITED: "The API key sent more requests than its rate limit; retry after `extensions.retryAfterSeconds`.",
  SERVICE_UNAVAILABLE: "The database could not be reached, even after retries; nothing was changed. Retry later (with backoff).",
  COMMIT_OUTCOME_UNKNOWN: "The database connection was lost while the change committed and its outcome could not be read back: the change may have been applied. Read it back before retrying.",
  INTERNAL_SERVER_ERROR: "An unexpected error; the message and `extensions.requestId` carry the request id that appears in the server log.",
} as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * A domain error with a stable code. Thrown by services; rendered to GraphQL clients as is,
 * with `extensions.code` and, for input errors, `extensions.field` (dotted path of the argument).
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  readonly field?: string;

  /** `http` sets the HTTP status of a response that carries only this error; `headers` adds response headers. */
  constructor(code: ErrorCode, message: string, options: { field?: string; http?: number; headers?: Record<string, string>; extra?: Record<string, unknown> } = {}) {
    super(message, {
      extensions: {
        code,
        ...(options.field ? { field: options.field } : {}),
        ...(options.extra ?? {}),
        ...(options.http ? { http: { status: options.http, ...(options.headers ? { headers: new Map(Object.entries(options.headers)) } : {}) } } : {}),
      },
    });
    this.name = "AppError";
    this.code = code;
    this.field = options.field;
  }
}

/** `BAD_USER_INPUT` for one argument. */
export function badInput(field: string, message: string): AppError {
  return new AppError("BAD_USER_INPUT", message, { field });
}

/** `NOT_FOUND`, worded the same whether the id never existed or belongs to another account. */
export function notFound(kind: string, id: string, field = "id"): AppError {
  return new AppError("NOT_FOUND", `${kind} ${JSON.stringify(id)} not found`, { field });
}

/** `UNAUTHENTICATED` with HTTP 401. */
export function unauthenticated(message = "A valid API key is required (Authorization: Bearer <key> or Api-Token: <key>)"): AppError {
  return new AppError("UNAUTHENTICATED", message, { http: 401 });
}
