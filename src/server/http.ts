import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, HeaderMap, type HTTPGraphQLRequest } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import type { GraphQLSchema } from "graphql";
import { apiKeyFromHeaders, authenticate } from "../accounts/account.service.js";
import { unauthenticated } from "../shared/errors.js";
import { requestScope } from "../shared/request-scope.js";
import type { Deps, GraphQLContext } from "./context.js";
import { databaseFailure, databaseFailureCode, makeFormatError, serviceUnavailable, SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS } from "./format-error.js";
import { costLimitPlugin, limitRules, noSubscriptionsOverHttpPlugin } from "./limits.js";
import { createRateLimiter, rateLimited } from "./rate-limit.js";
import { observeRequest } from "./observe-request.js";

/** Largest accepted request body: 1 MB. */
export const MAX_BODY_BYTES = 1_048_576;

/** A running HTTP server. */
export interface HttpServer {
  /** e.g. `http://127.0.0.1:4000` */
  readonly url: string;
  readonly server: Server;
  /** Stops accepting, drains in-flight requests, closes Apollo. */
  stop(): Promise<void>;
}

/** Extra routes other parts mount (health, public pages); return true when handled. */
export type Route = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** Raised by {@link readBody} when the body exceeds its limit (answer 413 and close the connection). */
export class BodyTooLarge extends Error {}

/** Reads a request body as UTF-8, at most `limit` bytes ({@link BodyTooLarge} beyond). */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading but keep the socket: destroying the request here would also kill the 413
        // answer. The answer closes the connection (see the caller).
        req.removeAllListeners("data");
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

/**
 * Starts the HTTP server: GraphQL (Apollo Server 5 over a plain `node:http` handler, so that
 * graphql-ws can share the server) at `/graphql`, `/healthz`, and the given extra routes.
 */
export async function startHttpServer(deps: Deps, schema: GraphQLSchema, options: { port: number; host: string; routes?: Route[] }): Promise<HttpServer> {
  const server = createServer();
  const limits = deps.config.graphqlLimits;
  const limiter = await createRateLimiter(deps.config.rateLimit, { clock: deps.clock, logger: deps.logger, redisUrl: deps.config.redisUrl });
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: makeFormatError(deps.logger, { hideSuggestions: deps.config.production }),
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    introspection: !deps.config.production,
    parseOptions: { maxTokens: limits.maxTokens },
    // Automatic persisted queries off: clients send the query text; nobody fills the server's cache.
    persistedQueries: false,
    validationRules: limitRules(limits),
    // main.ts owns SIGTERM/SIGINT. Apollo's own handlers would call stop() first, and Apollo 5
    // never releases a second, concurrent stop() (ours): shutdown would hang until the hard exit.
    stopOnTerminationSignals: false,
    plugins: [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginDrainHttpServer({ httpServer: server }), noSubscriptionsOverHttpPlugin(), costLimitPlugin(schema, limits)],
  });
  await apollo.start();

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<void> {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    let body: unknown;
    if (req.method === "POST") {
      let text: string;
      try {
        text = await readBody(req, MAX_BODY_BYTES);
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          res.shouldKeepAlive = false;
          res.on("finish", () => req.destroy());
          sendJson(res, 413, { errors: [{ message: `request body larger than ${MAX_BODY_BYTES} bytes`, extensions: { code: "BAD_REQUEST" } }] });
          return;
        }
        throw error;
      }
      if ((headers.get("content-type") ?? "").includes("application/json")) {
        try {
          body = text.length ? JSON.parse(text) : undefined;
        } catch {
          sendJson(res, 400, { errors: [{ message: "request body is not valid JSON", extensions: { code: "BAD_REQUEST" } }] });
          return;
        }
        if (Array.isArray(body)) {
          sendJson(res, 400, { errors: [{ message: "batched operations (a JSON array body) are not supported: send one operation per request", extensions: { code: "BATCHING_NOT_SUPPORTED" } }] });
          return;
        }
      } else {
        body = text;
      }
    }
    const httpGraphQLRequest: HTTPGraphQLRequest = { method: req.method ?? "GET", headers, search: url.search, body };
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest,
      context: async () => {
        const key = apiKeyFromHeaders((name) => headers.get(name));
        let actor: Awaited<ReturnType<typeof authenticate>> = null;
        try {
          actor = key ? await authenticate(deps.db, key) : null;
        } catch (error) {
          // The key cannot be checked: 503 and a retry hint, not a masked 500.
          if (!databaseFailureCode(error)) throw error;
          deps.logger.error({ err: error, requestId }, "database unreachable while authenticating a request");
          throw serviceUnavailable(requestId);
        }
        if (!actor) throw unauthenticated();
        requestScope.getStore()!.accountId = actor.accountId;
        const retryAfterSeconds = limiter ? await limiter.take(actor.apiKeyId ?? actor.accountId) : 0;
        if (retryAfterSeconds > 0) throw rateLimited(retryAfterSeconds);
        return { actor, deps, requestId };
      },
    });
    const outHeaders: Record<string, string> = { "x-request-id": requestId };
    for (const [key, value] of response.headers) outHeaders[key] = value;
    res.writeHead(response.status ?? 200, outHeaders);
    if (response.body.kind === "complete") {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  server.on("request", (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    // Request id (x-request-id in and out), duration metric and one log line per request; inside
    // the scope every log line carries the id, and masked errors quote it.
    const { scope, logger } = observeRequest(req, res, deps);
    const { requestId } = scope;
    void requestScope.run(scope, async () => {
      try {
        if (url.pathname === "/graphql") return await handleGraphQL(req, res, url, requestId);
        if (url.pathname === "/healthz") return sendJson(res, 200, { status: "ok" });
        for (const route of options.routes ?? []) if (await route(req, res)) return;
        sendJson(res, 404, { error: "not found" });
      } catch (error) {
        logger.error({ err: error, path: url.pathname }, "HTTP handler failed");
        if (res.headersSent) res.destroy();
        else if (databaseFailureCode(error) === "SERVICE_UNAVAILABLE") {
          res.setHeader("retry-after", String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS));
          sendJson(res, 503, { errors: [databaseFailure("SERVICE_UNAVAILABLE", requestId)] });
        } else sendJson(res, 500, { errors: [{ message: `Internal server error (reference ${requestId})`, extensions: { code: "INTERNAL_SERVER_ERROR", requestId } }] });
      }
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (error) {
    // Release what was started (a Redis connection), then report the listen error itself.
    await apollo.stop().catch(() => {});
    await limiter?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`,
    server,
    async stop() {
      await apollo.stop();
      await limiter?.close();
    },
  };
}
