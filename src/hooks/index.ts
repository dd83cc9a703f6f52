export { HookEntity, type HookStatus } from "./hook.entity.js";
export { hookMatches } from "./match.js";
export { verifyIntent } from "./handshake.js";
export * from "./hook.service.js";
export { HookResolver } from "./hook.resolver.js";
export { HookType, HookStatusEnum, EventSourceEnum } from "./hook.types.js";
