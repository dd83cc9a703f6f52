import { randomUUID } from "node:crypto";
import { unwrapResolverError } from "@apollo/server/errors";
import type { GraphQLFormattedError } from "graphql";
import { AppError, ERROR_CODES } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";

/**
 * Apollo `formatError`: domain errors and GraphQL request errors keep their code and message;
 * anything else (a driver error, a bug) is masked to INTERNAL_SERVER_ERROR with a reference
 * that appears in the server log beside the real error. No SQL, driver text or stack ever leaves.
 */
export function makeFormatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const code = formatted.extensions?.code as string | undefined;
    if (original instanceof AppError || (code && code !== "INTERNAL_SERVER_ERROR" && code in ERROR_CODES)) {
      const { stacktrace: _drop, http: _http, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
      if (code === "BAD_USER_INPUT" && extensions.field === undefined) {
        const field = variableField(formatted.message);
        if (field) extensions.field = field;
      }
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    const reference = randomUUID();
    logger.error({ err: original, reference, path: formatted.path }, "unexpected error in a GraphQL request");
    return {
      message: `Internal server error (reference ${reference})`,
      path: formatted.path,
      extensions: { code: "INTERNAL_SERVER_ERROR", reference },
    };
  };
}

/**
 * The offending input of a variable coercion error, which graphql-js reports without a field:
 * `Variable "$input" got invalid value "x" at "input.fields"; …` gives `$input.fields`.
 */
export function variableField(message: string): string | undefined {
  const match = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value .*? at "([^"]+)";/s.exec(message) ?? /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)"/.exec(message);
  if (!match) return undefined;
  return `$${match[2] ?? match[1]}`;
}
