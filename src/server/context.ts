import type { Actor } from "../accounts/actor.js";
import type { Config } from "../config.js";
import type { Db } from "../db/index.js";
import type { HttpClient } from "../delivery/http-client.js";
import type { EventBus } from "../events/event-bus.js";
import type { EventLog } from "../events/event-log.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { LiveHub, LiveSink } from "../realtime/live-hub.js";

/** Everything services need, built once by the composition root. */
export interface Deps {
  readonly config: Config;
  readonly db: Db;
  readonly bus: EventBus;
  readonly eventLog: EventLog;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Outbound HTTP (handshakes, deliveries). */
  readonly http: HttpClient;
}

/** The per-request GraphQL context: who is calling, and the shared dependencies. */
export interface GraphQLContext {
  readonly actor: Actor;
  readonly deps: Deps;
  readonly requestId: string;
  /** Set on graphql-ws operations: where a subscription streams to. */
  readonly live?: LiveContext;
}

/** The graphql-ws side of a context: the hub, the socket, and the operation's id on it. */
export interface LiveContext {
  readonly hub: LiveHub;
  readonly sink: LiveSink;
  readonly subscriptionId: string;
}
