import { AsyncLocalStorage } from "node:async_hooks";

/** What is known about the HTTP request being served: its id, and who is calling once authenticated. */
export interface RequestScope {
  /** The request id: the client's `x-request-id` when sane, else a generated UUID. Echoed as a response header. */
  readonly requestId: string;
  accountId?: string;
}

/**
 * The request being served, across every await of its handling. The logger stamps `requestId` on
 * every line written inside it, and masked errors quote it.
 */
export const requestScope = new AsyncLocalStorage<RequestScope>();
