import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { costErrors, limitRules, tokenLimitError } from "../server/limits.js";
import { GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { Actor } from "../accounts/actor.js";
import { authenticate } from "../accounts/account.service.js";
import type { Deps, GraphQLContext } from "../server/context.js";
import { databaseFailureCode } from "../server/format-error.js";
import { CLOSE_GOING_AWAY, CLOSE_TOO_MANY_CONNECTIONS, CLOSE_TRY_AGAIN_LATER, type LiveHub, type LiveSink } from "./live-hub.js";
import { formatLiveError } from "./live-errors.js";

/** Largest graphql-ws message accepted from a client: 1 MB, as an HTTP body. */
const MAX_MESSAGE_BYTES = 1_048_576;
/** On shutdown, how long clients get to answer the 1001 close before their sockets are cut, ms. */
const CLOSE_GRACE_MS = 2_000;

/** graphql-ws on the HTTP server's `/graphql`. */
export interface LiveServer {
  readonly hub: LiveHub;
  /** Open graphql-ws sockets. */
  readonly clients: ReadonlySet<WebSocket>;
  /** Closes every socket with 1001 (going away), then stops the hub. */
  stop(): Promise<void>;
}

type ConnectionExtra = {
  actor?: Actor;
  sink?: LiveSink;
  [key: PropertyKey]: unknown;
};

/**
 * Serves graphql-ws (subprotocol `graphql-transport-ws` only) on `server`'s upgrade requests
 * to `/graphql`. Auth is the `connection_init` payload `{ apiKey }` checked like the HTTP
 * header (4403 when missing or bad); each account may hold `maxConnectionsPerAccount` sockets
 * (4429 beyond); sockets are pinged every `keepAliveMs`. See docs/live.md.
 */
export function startLiveServer(deps: Deps, schema: GraphQLSchema, server: Server, hub: LiveHub): LiveServer {
  const { live: limits } = deps.config;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let stopping = false;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    if (pathname !== "/graphql" || stopping) {
      socket.end(`HTTP/1.1 ${stopping ? "503 Service Unavailable" : "404 Not Found"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  };
  server.on("upgrade", onUpgrade);

  const rules = deps.config.production ? [...specifiedRules, NoSchemaIntrospectionCustomRule] : specifiedRules;
  // The HTTP limits (docs/security.md) hold over the socket too: tokens, depth, aliases, cost.
  const documentLimits = limitRules(deps.config.graphqlLimits);
  const tooCostly = costErrors(schema, deps.config.graphqlLimits);
  const disposable = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema,
      isProd: deps.config.production,
      onConnect: async (ctx) => {
        const apiKey = ctx.connectionParams?.apiKey;
        let actor: Awaited<ReturnType<typeof authenticate>> = null;
        try {
          actor = typeof apiKey === "string" ? await authenticate(deps.db, apiKey) : null;
        } catch (error) {
          // The key cannot be checked (database unreachable): 1013, retry later; not a 4500.
          if (!databaseFailureCode(error)) throw error;
          deps.logger.error({ err: error }, "database unreachable while authenticating a live connection");
          ctx.extra.socket.close(CLOSE_TRY_AGAIN_LATER, "Service unavailable: retry later");
          return false;
        }
        if (!actor) return false; // graphql-ws closes with 4403 Forbidden
        if (!hub.addConnection(actor.accountId, limits.maxConnectionsPerAccount)) {
          ctx.extra.socket.close(CLOSE_TOO_MANY_CONNECTIONS, "Too many connections for this account");
          return false;
        }
        const socket = ctx.extra.socket;
        ctx.extra.actor = actor;
        ctx.extra.sink = {
          send(frame, done) {
            if (socket.readyState !== socket.OPEN) return done();
            socket.send(frame, { binary: false }, () => done());
          },
          close: (code, reason) => socket.close(code, reason),
        };
        return true;
      },
      onClose: (ctx) => {
        if (ctx.extra.actor) hub.removeConnection(ctx.extra.actor.accountId);
      },
      onSubscribe: (_ctx, _id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: deps.config.graphqlLimits.maxTokens });
        } catch (error) {
          const message = (error as Error).message;
          const tooLong = tokenLimitError({ message });
          if (tooLong) return [new GraphQLError(tooLong.message, { extensions: tooLong.extensions })];
          return [new GraphQLError(message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } })];
        }
        const errors = validate(schema, document, rules);
        if (errors.length) return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }));
        const refused = [...validate(schema, document, documentLimits), ...tooCostly(document, payload.variables ?? undefined)];
        if (refused.length) return refused.map((e) => new GraphQLError(e.message, { extensions: e.extensions }));
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx, id): GraphQLContext => ({
        actor: ctx.extra.actor!,
        deps,
        requestId: randomUUID(),
        live: { hub, sink: ctx.extra.sink!, subscriptionId: id },
      }),
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map((e) => formatLiveError(e, deps.logger)) } : undefined),
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatLiveError(e, deps.logger)),
    },
    wss,
    limits.keepAliveMs,
  );

  return {
    hub,
    clients: wss.clients,
    async stop() {
      stopping = true;
      server.off("upgrade", onUpgrade);
      const open = [...wss.clients];
      const closed = Promise.all(open.map((ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once("close", () => resolve())))));
      for (const ws of open) ws.close(CLOSE_GOING_AWAY, "Server shutting down");
      // A client that does not answer the close (stopped reading) is cut off after the grace.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
      for (const ws of wss.clients) ws.terminate();
      await disposable.dispose();
      await hub.close();
    },
  };
}
