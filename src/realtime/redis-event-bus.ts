import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { MemoryEventBus, type DeliveryNotice, type EventBus, type EventNotice } from "../events/event-bus.js";
import type { Logger } from "../shared/logger.js";

/** How long the start waits for Redis before failing, ms. */
const CONNECT_TIMEOUT_MS = 5_000;

interface Envelope<T> {
  /** The publishing process: it has already told its own listeners. */
  o: string;
  n: T;
}

/**
 * The bus across processes (`REDIS_URL`): notices are published on Redis pub/sub channels
 * `<prefix>:events` and `<prefix>:deliveries` and reach the listeners of every process
 * subscribed to them; the publishing process tells its own listeners directly. A notice lost on
 * the way (Redis restart, network) delays live streams until their safety poll of the log, and
 * the fan-out until its poll: the log stays the truth.
 */
export class RedisEventBus implements EventBus {
  private readonly local = new MemoryEventBus();
  private readonly origin = randomUUID();
  private readonly eventsChannel: string;
  private readonly deliveriesChannel: string;

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    channelPrefix: string,
    private readonly logger: Logger,
  ) {
    this.eventsChannel = `${channelPrefix}:events`;
    this.deliveriesChannel = `${channelPrefix}:deliveries`;
  }

  /** Connects to `url` (two connections: publish and subscribe); fails after 5 s when Redis does not answer. */
  static async connect(url: string, channelPrefix: string, logger: Logger): Promise<RedisEventBus> {
    const options = { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 2 };
    const pub = new Redis(url, options);
    const sub = new Redis(url, options);
    for (const client of [pub, sub]) client.on("error", (error) => logger.warn({ err: error }, "redis connection error (live notices delayed until it recovers)"));
    try {
      await Promise.all([pub.connect(), sub.connect()]);
    } catch (error) {
      pub.disconnect();
      sub.disconnect();
      throw new Error(`REDIS_URL: cannot connect to Redis: ${(error as Error).message}`);
    }
    const bus = new RedisEventBus(pub, sub, channelPrefix, logger);
    sub.on("message", (channel: string, message: string) => bus.receive(channel, message));
    await sub.subscribe(bus.eventsChannel, bus.deliveriesChannel);
    return bus;
  }

  publish(notice: EventNotice): void {
    this.local.publish(notice);
    this.send(this.eventsChannel, notice);
  }

  subscribe(listener: (notice: EventNotice) => void): () => void {
    return this.local.subscribe(listener);
  }

  publishDeliveries(notice: DeliveryNotice): void {
    this.local.publishDeliveries(notice);
    this.send(this.deliveriesChannel, notice);
  }

  subscribeDeliveries(listener: (notice: DeliveryNotice) => void): () => void {
    return this.local.subscribeDeliveries(listener);
  }

  async close(): Promise<void> {
    await this.local.close();
    await Promise.all([this.sub.quit().catch(() => this.sub.disconnect()), this.pub.quit().catch(() => this.pub.disconnect())]);
  }

  private send(channel: string, notice: unknown): void {
    const message: Envelope<unknown> = { o: this.origin, n: notice };
    this.pub.publish(channel, JSON.stringify(message)).catch((error: Error) => this.logger.warn({ err: error, channel }, "redis publish failed (the safety poll catches up)"));
  }

  private receive(channel: string, raw: string): void {
    let message: Envelope<Record<string, unknown>>;
    try {
      message = JSON.parse(raw);
    } catch {
      return this.logger.warn({ channel }, "ignored a malformed redis notice");
    }
    if (!message || message.o === this.origin || typeof message.n?.accountId !== "string") return;
    if (channel === this.eventsChannel && typeof message.n.lastSequence === "number") this.local.publish(message.n as unknown as EventNotice);
    else if (channel === this.deliveriesChannel && Array.isArray(message.n.deliveries)) this.local.publishDeliveries(message.n as unknown as DeliveryNotice);
  }
}
