export { LiveHub, LiveSubscription, CLOSE_FORBIDDEN, CLOSE_GOING_AWAY, CLOSE_TOO_MANY_CONNECTIONS, CLOSE_TOO_SLOW, CLOSE_TRY_AGAIN_LATER, type LiveSink, type LiveHubOptions } from "./live-hub.js";
export { startLiveServer, type LiveServer } from "./live-server.js";
export { LiveResolver } from "./live.resolver.js";
export { RedisEventBus } from "./redis-event-bus.js";
