export { EventEntity, type EventSource } from "./event.entity.js";
export { EVENT_TYPES, type EventType as EventTypeName, isEventType } from "./event-types.js";
export { type EventBus, type EventNotice, type DeliveryNotice, type DeliveryState, MemoryEventBus } from "./event-bus.js";
export { EventLog, appendEvents, type Change, type EventDraft } from "./event-log.js";
export { toEnvelope, type EventEnvelope } from "./envelope.js";
export { listEvents, checkEventTypes } from "./event.service.js";
export { EventResolver, renderEvent } from "./event.resolver.js";
export { EventType, EventConnectionType } from "./event.types.js";
