import { EventEmitter } from "node:events";

/**
 * What is published after a transaction that appended events commits: a hint, never the truth.
 * Listeners (fan-out, live streams) read the log; a lost notice only delays them until their
 * next poll (STYLE.md principle 2).
 */
export interface EventNotice {
  accountId: string;
  /** Highest sequence committed by the transaction. */
  lastSequence: number;
  /** Ids of the events appended, in sequence order. */
  eventIds: string[];
}

/** A delivery's state as its outcome writer committed it (dates as ISO strings, so it crosses Redis as JSON). */
export interface DeliveryState {
  id: string;
  accountId: string;
  hookId: string;
  eventId: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * What the delivery outcome writer publishes after its commit: the new states of the deliveries
 * it changed (attempt recorded, delivered, retry scheduled, dead), for `deliveryUpdates`.
 */
export interface DeliveryNotice {
  accountId: string;
  deliveries: DeliveryState[];
}

/** Publishes committed-event notices to listeners, in this process or across processes. */
export interface EventBus {
  publish(notice: EventNotice): void;
  /** Registers a listener; returns a function that removes it. */
  subscribe(listener: (notice: EventNotice) => void): () => void;
  /** Publishes delivery state changes (optional: a bus without it carries no `deliveryUpdates`). */
  publishDeliveries?(notice: DeliveryNotice): void;
  /** Registers a delivery-notice listener; returns a function that removes it. */
  subscribeDeliveries?(listener: (notice: DeliveryNotice) => void): () => void;
  close(): Promise<void>;
}

/** An in-process bus (the default, and what tests use unless they test Redis). */
export class MemoryEventBus implements EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per live subscription: no leak warning for many dashboards.
    this.emitter.setMaxListeners(0);
  }

  publish(notice: EventNotice): void {
    this.emitter.emit("event", notice);
  }

  subscribe(listener: (notice: EventNotice) => void): () => void {
    this.emitter.on("event", listener);
    return () => this.emitter.off("event", listener);
  }

  publishDeliveries(notice: DeliveryNotice): void {
    this.emitter.emit("deliveries", notice);
  }

  subscribeDeliveries(listener: (notice: DeliveryNotice) => void): () => void {
    this.emitter.on("deliveries", listener);
    return () => this.emitter.off("deliveries", listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
