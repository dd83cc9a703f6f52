import { GraphQLError, type GraphQLFormattedError } from "graphql";
import type { Logger } from "../shared/logger.js";
import { makeFormatError } from "../server/format-error.js";

const formatters = new WeakMap<Logger, ReturnType<typeof makeFormatError>>();

/**
 * Formats an error for a graphql-ws client exactly as the HTTP API does (stable codes, unknown
 * errors masked with a reference). An error graphql-js raised about the request itself (a
 * variable or argument of the wrong type) carries no code: it gets BAD_USER_INPUT, as over HTTP.
 */
export function formatLiveError(error: GraphQLError, logger: Logger, code?: string): GraphQLFormattedError {
  let format = formatters.get(logger);
  if (!format) formatters.set(logger, (format = makeFormatError(logger)));
  const json = error.toJSON();
  if (!json.extensions?.code && (code || !error.originalError)) {
    const coded = new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions: { ...error.extensions, code: code ?? "BAD_USER_INPUT" } });
    return format(coded.toJSON(), coded);
  }
  return format(json, error);
}
