/**
 * Hookcast as a library: start it in-process, and the pieces integrators and tests reuse.
 */
export { loadConfig, type Config, type Role, ConfigError } from "./config.js";
export { startHookcast, type Hookcast, type Overrides } from "./server/app.js";
export { createAccount, createApiKey, type ApiKeySource } from "./accounts/account.service.js";
export { ERROR_CODES, AppError, type ErrorCode } from "./shared/errors.js";
export { EVENT_TYPES } from "./events/event-types.js";
export type { EventEnvelope } from "./events/envelope.js";
export { verifyWebhook, type WebhookHeaders } from "./delivery/sign.js";
export type { HookEnvelope, FetchRequest } from "./delivery/payload.js";
export { listen, type ListenOptions, type Listener } from "./realtime/listen.js";
export { RedisEventBus } from "./realtime/redis-event-bus.js";
export { CLOSE_FORBIDDEN, CLOSE_GOING_AWAY, CLOSE_TOO_MANY_CONNECTIONS, CLOSE_TOO_SLOW } from "./realtime/live-hub.js";
