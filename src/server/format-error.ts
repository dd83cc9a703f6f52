import { randomUUID } from "node:crypto";
import { unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { CommitOutcomeUnknownError, isDatabaseUnavailable } from "../db/index.js";
import { AppError, ERROR_CODES } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { requestScope } from "../shared/request-scope.js";
import { tokenLimitError, withoutSuggestions } from "./limits.js";

/**
 * Apollo `formatError`: domain errors and GraphQL request errors keep their code and message;
 * anything else (a driver error, a bug) is masked to INTERNAL_SERVER_ERROR with the request id
 * (`extensions.requestId`, also quoted in the message as its reference), which appears in the
 * server log beside the real error. No SQL, driver text or stack ever leaves. A database that
 * cannot be reached answers SERVICE_UNAVAILABLE, a COMMIT cut off without a known outcome
 * COMMIT_OUTCOME_UNKNOWN (both with the request id, both logged).
 * A limit refusal keeps its own code (QUERY_TOO_DEEP, TOO_MANY_TOKENS, ...), not Apollo's
 * generic validation or parse code. With `hideSuggestions` (production), graphql-js's
 * `Did you mean …?` hints are dropped.
 */
export function makeFormatError(logger: Logger, options: { hideSuggestions?: boolean } = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = format(formatted, error);
    return options.hideSuggestions ? { ...result, message: withoutSuggestions(result.message) } : result;
  };

  function format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    let original = unwrapResolverError(error);
    // Apollo wraps a validation rule's error in its own ValidationError (code overwritten).
    if (!(original instanceof AppError) && original instanceof GraphQLError && original.originalError instanceof AppError) {
      const limit: AppError = original.originalError;
      original = limit;
      formatted = { ...formatted, message: limit.message, extensions: { ...formatted.extensions, ...limit.extensions } };
    }
    const code = formatted.extensions?.code as string | undefined;
    if (code === "GRAPHQL_PARSE_FAILED") {
      const tokens = tokenLimitError(formatted);
      if (tokens) return tokens;
    }
    if (original instanceof AppError || (code && code !== "INTERNAL_SERVER_ERROR" && code in ERROR_CODES)) {
      const { stacktrace: _drop, http: _http, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
      if (code === "BAD_USER_INPUT" && extensions.field === undefined) {
        const field = variableField(formatted.message);
        if (field) extensions.field = field;
      }
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    // One id per request: the client's x-request-id or a generated one (a fresh one outside HTTP).
    const requestId = requestScope.getStore()?.requestId ?? randomUUID();
    // The database, not the request, failed: a code the client can act on (retry, or read back).
    const infra = databaseFailureCode(original);
    if (infra) {
      logger.error({ err: original, requestId, path: formatted.path, code: infra }, "database failure in a GraphQL request");
      return { ...databaseFailure(infra, requestId), path: formatted.path };
    }
    logger.error({ err: original, requestId, path: formatted.path }, "unexpected error in a GraphQL request");
    return {
      message: `Internal server error (reference ${requestId})`,
      path: formatted.path,
      extensions: { code: "INTERNAL_SERVER_ERROR", requestId },
    };
  }
}

/**
 * The code for a failure of the database rather than of the request, or null: a COMMIT cut off
 * without a known outcome, or a database unreachable after the retries.
 */
export function databaseFailureCode(error: unknown): "COMMIT_OUTCOME_UNKNOWN" | "SERVICE_UNAVAILABLE" | null {
  if (error instanceof CommitOutcomeUnknownError) return "COMMIT_OUTCOME_UNKNOWN";
  return isDatabaseUnavailable(error) ? "SERVICE_UNAVAILABLE" : null;
}

/** The error a client gets for a {@link databaseFailureCode}: the code's meaning and the request id as its reference. */
export function databaseFailure(code: "COMMIT_OUTCOME_UNKNOWN" | "SERVICE_UNAVAILABLE", requestId: string): { message: string; extensions: { code: string; requestId: string } } {
  return { message: `${ERROR_CODES[code]} (reference ${requestId})`, extensions: { code, requestId } };
}

/**
 * SERVICE_UNAVAILABLE for a request that could not even be authenticated (the database is
 * down): HTTP 503 with `Retry-After`, the request id in the message and in `extensions`.
 */
export function serviceUnavailable(requestId: string): AppError {
  return new AppError("SERVICE_UNAVAILABLE", databaseFailure("SERVICE_UNAVAILABLE", requestId).message, {
    http: 503,
    headers: { "retry-after": String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS) },
    extra: { requestId },
  });
}

/** The `Retry-After` of a 503 answered while the database is unreachable. */
export const SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/**
 * The offending input of a variable coercion error, which graphql-js reports without a field:
 * `Variable "$input" got invalid value "x" at "input.fields"; …` gives `$input.fields`.
 */
export function variableField(message: string): string | undefined {
  const match = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value .*? at "([^"]+)";/s.exec(message) ?? /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)"/.exec(message);
  if (!match) return undefined;
  return `$${match[2] ?? match[1]}`;
}
