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

/** Publishes committed-event notices to listeners, in this process or across processes. */
export interface EventBus {
  publish(notice: EventNotice): void;
  /** Registers a listener; returns a function that removes it. */
  subscribe(listener: (notice: EventNotice) => void): () => void;
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

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
