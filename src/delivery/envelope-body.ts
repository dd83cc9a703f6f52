/** The webhook body of an event for a hook; shaping by payload mode and selection lives in payload.ts. */
export { webhookBody } from "./payload.js";
