export { HookEntity, type HookStatus, type PayloadMode } from "./hook.entity.js";
export { hookMatches } from "./match.js";
export { verifyIntent } from "./handshake.js";
export * from "./hook.service.js";
export { HookResolver } from "./hook.resolver.js";
export { HookType, HookStatusEnum, EventSourceEnum, PayloadModeEnum } from "./hook.types.js";
export { validateSelection, compileSelection, applySelection, loadSelectionSchema, MAX_SELECTION_LENGTH, type CompiledSelection } from "./selection.js";
