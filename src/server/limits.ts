import armor from "@escape.tech/graphql-armor";
import type { ApolloServerPlugin } from "@apollo/server";
import { Kind, validate, visit, type DocumentNode, type GraphQLError, type GraphQLFormattedError, type GraphQLSchema, type ValidationContext, type ValidationRule } from "graphql";
import type { GraphQLLimits } from "../config.js";
import { AppError, type ErrorCode } from "../shared/errors.js";

/**
 * GraphQL limits (see docs/security.md, "GraphQL limits"): depth, alias and cost limits are
 * graphql-armor's rules, reporting our own codes; the token limit is graphql-js's parser option
 * `maxTokens`. A refused document is answered with HTTP 400 before any resolver runs.
 */

const { ApolloArmor } = armor;

/** A limit refusal: `code` and HTTP 400, reported through the validation context. */
function reporter(code: ErrorCode, describe: (found: string) => string) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    // armor's message: "Syntax Error: Query depth limit of 10 exceeded, found 12."
    const found = /found (\d+(?:\.\d+)?)/.exec(error.message)?.[1] ?? "?";
    context?.reportError(new AppError(code, describe(found), { http: 400 }));
  };
}

/** Validation rules for depth and aliases (cost needs variables: see {@link costLimitPlugin}). */
export function limitRules(limits: GraphQLLimits): ValidationRule[] {
  return new ApolloArmor({
    blockFieldSuggestion: { enabled: false },
    maxTokens: { enabled: false },
    costLimit: { enabled: false },
    maxDirectives: { enabled: false },
    maxDepth: {
      n: limits.maxDepth,
      // Fragments add no level: `{ a { ...F } }` is as deep as the fields it expands to.
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reporter("QUERY_TOO_DEEP", (found) => `query depth ${found} is over the limit of ${limits.maxDepth}`)],
    },
    maxAliases: {
      n: limits.maxAliases,
      propagateOnRejection: false,
      onReject: [reporter("TOO_MANY_ALIASES", (found) => `the operation uses ${found} aliases, over the limit of ${limits.maxAliases}`)],
    },
  }).protect().validationRules;
}

function costRule(limits: GraphQLLimits): ValidationRule {
  const [rule] = new ApolloArmor({
    blockFieldSuggestion: { enabled: false },
    maxTokens: { enabled: false },
    maxDirectives: { enabled: false },
    maxDepth: { enabled: false },
    maxAliases: { enabled: false },
    costLimit: {
      maxCost: limits.maxCost,
      // About one point per value returned: an object 2, a scalar 1, a list times its `first`.
      objectCost: 2,
      scalarCost: 1,
      depthCostFactor: 1,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reporter("QUERY_TOO_COMPLEX", (found) => `query cost ${found} is over the limit of ${limits.maxCost} (about one point per field returned, lists counted at their \`first\`)`)],
    },
  }).protect().validationRules;
  return rule;
}

/** The largest page any field serves (`events(first)` 1..500): a bigger `first` fails its own validation. */
const MAX_PAGE = 500;

/**
 * `first`/`last` as the cost rule should count them: a variable replaced by its value (the rule
 * reads literals only, so `contacts(first: $n)` would otherwise count as one), and any value
 * clamped to 0..500, so that an out-of-range `first` gets the field's own BAD_USER_INPUT.
 */
export function inlinePageSizes(document: DocumentNode, variables: Record<string, unknown> | undefined): DocumentNode {
  return visit(document, {
    Argument(node) {
      if (node.name.value !== "first" && node.name.value !== "last") return undefined;
      const value = node.value.kind === Kind.VARIABLE ? variables?.[node.value.name.value] : node.value.kind === Kind.INT ? Number(node.value.value) : undefined;
      if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
      const pages = Math.min(MAX_PAGE, Math.max(0, Math.trunc(value)));
      return { ...node, value: { kind: Kind.INT, value: String(pages) } };
    },
  });
}

/**
 * The cost check of one operation with its variables (for graphql-ws, which has no Apollo
 * plugins): the QUERY_TOO_COMPLEX errors, or none.
 */
export function costErrors(schema: GraphQLSchema, limits: GraphQLLimits): (document: DocumentNode, variables: Record<string, unknown> | undefined) => readonly GraphQLError[] {
  const rule = costRule(limits);
  return (document, variables) => validate(schema, inlinePageSizes(document, variables), [rule]);
}

/**
 * The cost limit, as an Apollo plugin: it runs once the operation and its variables are known
 * (validation rules see neither), and answers QUERY_TOO_COMPLEX with HTTP 400.
 */
export function costLimitPlugin(schema: GraphQLSchema, limits: GraphQLLimits): ApolloServerPlugin {
  const rule = costRule(limits);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          const errors = validate(schema, inlinePageSizes(document, request.variables), [rule]);
          if (errors.length) throw errors[0].originalError ?? errors[0];
        },
      };
    },
  };
}

/**
 * Subscriptions are served over graphql-ws; over plain HTTP they get BAD_REQUEST (400) rather
 * than graphql-js's code-less execution error.
 */
export function noSubscriptionsOverHttpPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === "subscription") {
            throw new AppError("BAD_REQUEST", "subscriptions are served over graphql-ws (a WebSocket at /graphql), not over HTTP", { http: 400 });
          }
        },
      };
    },
  };
}

/** graphql-js's message when `maxTokens` stops the parser ("more that 5000 tokens", sic). */
const TOKEN_LIMIT = /^Syntax Error: Document contains more th\w+ (\d+) tokens/;

/**
 * Gives a token-limit parse error its own code (graphql-js reports it as a syntax error).
 * Returns null for any other error.
 */
export function tokenLimitError(formatted: GraphQLFormattedError): GraphQLFormattedError | null {
  const match = TOKEN_LIMIT.exec(formatted.message);
  if (!match) return null;
  return { message: `the document has more than ${match[1]} tokens, the limit`, extensions: { code: "TOO_MANY_TOKENS" satisfies ErrorCode } };
}

/** Drops graphql-js's `Did you mean "…"?` hints (production: they map the schema for an attacker). */
export function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, "");
}
