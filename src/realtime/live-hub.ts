import { execute, GraphQLError, Kind, print, visit, type DocumentNode, type GraphQLResolveInfo, type GraphQLSchema } from "graphql";
import { In, MoreThan } from "typeorm";
import { AccountEntity } from "../accounts/account.entity.js";
import type { Db } from "../db/index.js";
import type { DeliveryNotice, DeliveryState, EventBus } from "../events/event-bus.js";
import { EventEntity } from "../events/event.entity.js";
import { renderEvent } from "../events/event.resolver.js";
import type { Logger } from "../shared/logger.js";
import { formatLiveError } from "./live-errors.js";

/** Close code of a connection whose subscription fell more than its buffer behind (docs/live.md). */
export const CLOSE_TOO_SLOW = 4408;
/** Close code of a connection refused by the per-account connection cap. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4429;
/** Close code of a missing or bad API key in `connection_init`. */
export const CLOSE_FORBIDDEN = 4403;
/** Close code of every socket when the server shuts down ("going away"). */
export const CLOSE_GOING_AWAY = 1001;
/** The database could not be reached to check the key: retry later (WebSocket's "Try Again Later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** Events read per query, by the live reader of an account and by a replay. */
const PAGE = 500;

const TAIL = Buffer.from("}");

/** Where a subscription's messages go: one graphql-ws socket. */
export interface LiveSink {
  /** Writes one complete graphql-ws message (UTF-8 JSON, sent as a text frame); `done` runs once it has left for the socket. */
  send(frame: Buffer, done: () => void): void;
  /** Closes the whole connection. */
  close(code: number, reason: string): void;
}

/** What the hub uses. */
export interface LiveHubDeps {
  db: Db;
  bus: EventBus;
  logger: Logger;
}

/** Options of the hub; defaults in brackets. */
export interface LiveHubOptions {
  /**
   * Messages of one subscription still waiting for its socket when the next batch of live
   * events is due; more, and the connection is closed with 4408 [1,000]. Memory per
   * subscription is bounded by this plus one batch (at most 500 events).
   */
  bufferMessages: number;
  /** Safety poll of the log, ms [1,000]: the longest a lost notice delays an event. */
  pollMs: number;
}

/**
 * One operation as several subscribers send it: same account, same document and same values of
 * the variables its selection uses. The hub executes and serializes each event once per group
 * and hands the same JSON to every subscriber of the group.
 */
class RenderGroup {
  refs = 0;
  constructor(
    readonly key: string,
    private readonly schema: GraphQLSchema,
    private readonly document: DocumentNode,
    private readonly variableValues: Record<string, unknown>,
    private readonly contextValue: unknown,
    private readonly logger: Logger,
    private readonly rendered: () => void,
  ) {}

  /**
   * The `payload` of a graphql-ws `next` message for `root`, as UTF-8 JSON: encoded once, then
   * only copied behind each subscriber's message id. Never rejects.
   */
  async render(root: unknown): Promise<Buffer> {
    this.rendered();
    return Buffer.from(await this.renderJson(root), "utf8");
  }

  private async renderJson(root: unknown): Promise<string> {
    try {
      const result = await execute({ schema: this.schema, document: this.document, variableValues: this.variableValues, contextValue: this.contextValue, rootValue: root });
      if (!result.errors) return JSON.stringify({ data: result.data });
      return JSON.stringify({ data: result.data, errors: result.errors.map((e) => formatLiveError(e, this.logger)) });
    } catch (error) {
      return JSON.stringify({ errors: [formatLiveError(new GraphQLError(String(error), { originalError: error as Error }), this.logger)] });
    }
  }
}

/** One live subscription: its position in the account's log, its filter, its bounded buffer. */
export class LiveSubscription {
  /** Sequence of the last event of the account's log this subscription has passed (sent or filtered out). */
  last = 0;
  /** Messages handed to the socket and not yet written. */
  pending = 0;
  closed = false;
  private readonly head: Buffer;
  private drainWaiters: Array<() => void> = [];
  private readonly endWaiters: Array<() => void> = [];

  constructor(
    readonly accountId: string,
    id: string,
    private readonly sink: LiveSink,
    readonly group: RenderGroup,
    readonly limit: number,
    readonly matches: (item: { accountId: string } & Record<string, unknown>) => boolean,
    private readonly onEnd: (sub: LiveSubscription) => void,
  ) {
    this.head = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`, "utf8");
  }

  /**
   * True when more than `limit` messages sent earlier are still waiting for the socket. Checked
   * before each batch of live events (not within one): a burst to a client that keeps up is not
   * "behind", a client that stopped reading is, by the next batch.
   */
  get behind(): boolean {
    return this.pending > this.limit;
  }

  /** Closes the connection with 4408 (too slow); the client resumes with `after`. */
  tooSlow(): void {
    if (this.closed) return;
    this.sink.close(CLOSE_TOO_SLOW, "Consumer too slow: resume with after");
    this.end();
  }

  /** Sends one rendered payload. */
  push(payload: Buffer): void {
    if (this.closed) return;
    this.pending++;
    this.sink.send(Buffer.concat([this.head, payload, TAIL]), () => {
      this.pending--;
      if (this.pending <= this.limit / 2 && this.drainWaiters.length) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    });
  }

  /** Resolves when at most half the buffer is in use (replays pace themselves on it). */
  drained(): Promise<void> {
    if (this.pending <= this.limit / 2 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Ends the subscription (client `complete`, socket closed, too slow, server stop). */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.drainWaiters.splice(0)) w();
    for (const w of this.endWaiters.splice(0)) w();
    this.onEnd(this);
  }

  /**
   * The iterator graphql-ws consumes. It yields nothing: messages are written straight to the
   * socket, pre-serialized and shared (see LiveHub). It finishes when the subscription ends, and
   * `return()` (the client's `complete`, or the socket closing) ends the subscription.
   */
  iterator(): AsyncIterableIterator<never> {
    const done = { done: true as const, value: undefined as never };
    const it: AsyncIterableIterator<never> = {
      next: () => (this.closed ? Promise.resolve(done) : new Promise((resolve) => this.endWaiters.push(() => resolve(done)))),
      return: async () => {
        this.end();
        return done;
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }
}

/**
 * The live reader of one account's log. All the account's live subscriptions share it: on each
 * wake-up (bus notice or safety poll) it reads the events after its head once, renders each once
 * per group and hands them out. Work runs one task at a time, so a subscription switching from
 * replay to live (`join`) sees a head that does not move under it: no gap, no duplicate.
 */
class AccountFeed {
  head = 0;
  readonly live = new Set<LiveSubscription>();
  members = 0;
  readonly ready: Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private fetchQueued = false;

  constructor(
    private readonly hub: LiveHub,
    readonly accountId: string,
  ) {
    // The head starts at the log's end. If that read fails, `ready` rejects: the subscriptions
    // waiting on it are closed (4500) and the next subscriber starts a fresh reader.
    this.ready = hub.deps.db
      .read((m) => m.findOne(AccountEntity, { where: { id: accountId }, select: { id: true, eventSeq: true } }))
      .then((account) => {
        this.head = account?.eventSeq ?? 0;
      });
    this.chain = this.ready.catch(() => undefined);
  }

  private enqueue(task: () => Promise<void> | void): Promise<void> {
    const run = this.chain.then(task).catch((error) => this.hub.deps.logger.error({ err: error, accountId: this.accountId }, "live stream reader failed; the next wake-up retries"));
    this.chain = run;
    return run;
  }

  /** Reads what was committed after the head (coalesced: one read queued at a time). */
  wake(): void {
    if (this.fetchQueued) return;
    this.fetchQueued = true;
    void this.enqueue(async () => {
      this.fetchQueued = false;
      for (;;) {
        const rows = await this.hub.deps.db.read((m) =>
          m.find(EventEntity, { where: { accountId: this.accountId, sequence: MoreThan(this.head) }, order: { sequence: "ASC" }, take: PAGE }),
        );
        if (rows.length === 0) return;
        this.head = rows[rows.length - 1].sequence;
        await this.deliver(rows, [...this.live]);
        if (rows.length < PAGE) return;
      }
    });
  }

  /** Renders each event once per group, then pushes in order to every subscription it matches. */
  private async deliver(rows: EventEntity[], subs: LiveSubscription[]): Promise<void> {
    const cache = new Map<RenderGroup, Map<string, Promise<Buffer>>>();
    const plan = subs.map((sub) => {
      const events = rows.filter((e) => e.sequence > sub.last && sub.matches(e as never));
      const renders = events.map((e) => {
        let byEvent = cache.get(sub.group);
        if (!byEvent) cache.set(sub.group, (byEvent = new Map()));
        let payload = byEvent.get(e.id);
        if (!payload) byEvent.set(e.id, (payload = sub.group.render(renderEvent(e))));
        return { event: e, payload };
      });
      return { sub, renders };
    });
    const payloads = await Promise.all(plan.map((p) => Promise.all(p.renders.map((r) => r.payload))));
    const lastSeq = rows[rows.length - 1].sequence;
    plan.forEach(({ sub, renders }, i) => {
      if (renders.length && sub.behind) return sub.tooSlow();
      for (let j = 0; j < renders.length; j++) this.hub.send(sub, renders[j].event, payloads[i][j]);
      if (sub.last < lastSeq) sub.last = lastSeq;
    });
  }

  /** Switches a subscription to live: sends what the feed read past its position, then adds it. */
  join(sub: LiveSubscription, fromNow: boolean): Promise<void> {
    let failure: unknown = null;
    const joined = this.enqueue(async () => {
      try {
        await this.joinNow(sub, fromNow);
      } catch (error) {
        failure = error;
      }
    });
    return joined.then(() => {
      if (failure) throw failure;
    });
  }

  private async joinNow(sub: LiveSubscription, fromNow: boolean): Promise<void> {
    if (sub.closed) return;
    if (fromNow) sub.last = this.head;
    if (sub.last < this.head) {
      const head = this.head;
      const rows = await this.hub.deps.db.read((m) =>
        m.find(EventEntity, { where: { accountId: this.accountId, sequence: MoreThan(sub.last) }, order: { sequence: "ASC" }, take: head - sub.last }),
      );
      const mine = rows.filter((e) => e.sequence <= head && sub.matches(e as never));
      const payloads = await Promise.all(mine.map((e) => sub.group.render(renderEvent(e))));
      if (mine.length && sub.behind) return sub.tooSlow();
      mine.forEach((e, i) => this.hub.send(sub, e, payloads[i]));
      sub.last = head;
    }
    if (!sub.closed) this.live.add(sub);
  }
}

/** Arguments of the `events` subscription, validated. */
export interface EventsStreamArgs {
  types?: string[];
  /** Lowercase sources. */
  sources?: string[];
  /** Sequence to replay after; undefined = live from now. */
  after?: number;
}

/** What a subscriber brings: its account, its socket and the operation (for grouping). */
export interface LiveCaller {
  accountId: string;
  subscriptionId: string;
  sink: LiveSink;
  info: GraphQLResolveInfo;
  contextValue: unknown;
}

/**
 * The live hub of a process: per-account readers of the event log for `events`, delivery
 * notices for `deliveryUpdates`, the connection count per account, and the safety poll. The
 * log is the truth; bus notices only wake the readers early.
 */
export class LiveHub {
  private readonly feeds = new Map<string, AccountFeed>();
  private readonly groups = new Map<string, RenderGroup>();
  private readonly deliverySubs = new Map<string, Set<LiveSubscription & { hookId?: string }>>();
  private readonly all = new Set<LiveSubscription>();
  private readonly connections = new Map<string, number>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly poll: NodeJS.Timeout;
  private deliveryChain: Promise<void> = Promise.resolve();
  private polling = false;
  private renders = 0;

  constructor(
    readonly deps: LiveHubDeps,
    readonly options: LiveHubOptions,
  ) {
    this.unsubscribe.push(
      deps.bus.subscribe((notice) => {
        const feed = this.feeds.get(notice.accountId);
        if (feed && notice.lastSequence > feed.head) feed.wake();
      }),
    );
    if (deps.bus.subscribeDeliveries) this.unsubscribe.push(deps.bus.subscribeDeliveries((notice) => this.onDeliveries(notice)));
    this.poll = setInterval(() => void this.safetyPoll(), options.pollMs);
    this.poll.unref();
  }

  /** Live subscriptions in this process (both kinds). */
  get subscriptionCount(): number {
    return this.all.size;
  }

  /** Subscriptions receiving live (an `events` one counts once its replay is over). */
  get liveCount(): number {
    let n = 0;
    for (const f of this.feeds.values()) n += f.live.size;
    for (const s of this.deliverySubs.values()) n += s.size;
    return n;
  }

  /** Render groups: distinct (account, operation) pairs being executed and serialized once each. */
  get groupCount(): number {
    return this.groups.size;
  }

  /**
   * Executions (each with its serialization) of an operation for one event or delivery state,
   * since the start: the fan-out cost. Live, one per event per group, however many subscribers
   * the group has; a replay renders for its own subscription.
   */
  get renderCount(): number {
    return this.renders;
  }

  /** Counts a connection of `accountId`; false when the account is at its cap. */
  addConnection(accountId: string, max: number): boolean {
    const n = this.connections.get(accountId) ?? 0;
    if (n >= max) return false;
    this.connections.set(accountId, n + 1);
    return true;
  }

  removeConnection(accountId: string): void {
    const n = (this.connections.get(accountId) ?? 1) - 1;
    if (n <= 0) this.connections.delete(accountId);
    else this.connections.set(accountId, n);
  }

  /** Opens an `events` subscription: replays after `args.after` (if given), then continues live. */
  openEvents(caller: LiveCaller, args: EventsStreamArgs): AsyncIterableIterator<never> {
    const types = args.types ? new Set(args.types) : null;
    const sources = args.sources ? new Set(args.sources) : null;
    const matches = (e: { accountId: string } & Record<string, unknown>) =>
      e.accountId === caller.accountId && (!types || types.has(e.type as string)) && (!sources || sources.has(e.source as string));
    let feed = this.feeds.get(caller.accountId);
    if (!feed) this.feeds.set(caller.accountId, (feed = new AccountFeed(this, caller.accountId)));
    const f = feed;
    f.members++;
    const sub = this.newSubscription(caller, matches, () => {
      f.live.delete(sub);
      if (--f.members === 0 && this.feeds.get(caller.accountId) === f) this.feeds.delete(caller.accountId);
    });
    void this.replay(f, sub, args).catch((error) => {
      this.deps.logger.error({ err: error, accountId: caller.accountId }, "live replay failed");
      if (this.feeds.get(caller.accountId) === f && f.live.size === 0) this.feeds.delete(caller.accountId);
      caller.sink.close(4500, "Internal server error");
      sub.end();
    });
    return sub.iterator();
  }

  /** Opens a `deliveryUpdates` subscription (live only; `deliveries` is the catch-up). */
  openDeliveries(caller: LiveCaller, hookId: string | undefined): AsyncIterableIterator<never> {
    const matches = (d: { accountId: string } & Record<string, unknown>) => d.accountId === caller.accountId && (!hookId || d.hookId === hookId);
    let set = this.deliverySubs.get(caller.accountId);
    if (!set) this.deliverySubs.set(caller.accountId, (set = new Set()));
    const s = set;
    const sub = this.newSubscription(caller, matches, () => {
      s.delete(sub);
      if (s.size === 0 && this.deliverySubs.get(caller.accountId) === s) this.deliverySubs.delete(caller.accountId);
    });
    s.add(sub);
    return sub.iterator();
  }

  /** Ends every subscription and stops the poll (the sockets are closed by the server). */
  async close(): Promise<void> {
    clearInterval(this.poll);
    for (const u of this.unsubscribe.splice(0)) u();
    for (const sub of [...this.all]) sub.end();
  }

  /** Sends `payload` for `item` after checking, once more, that it belongs to the subscriber's account. */
  send(sub: LiveSubscription, item: { accountId: string; id: string }, payload: Buffer): void {
    if (item.accountId !== sub.accountId) {
      this.deps.logger.error({ itemId: item.id, accountId: sub.accountId }, "live stream refused an item of another account");
      return;
    }
    sub.push(payload);
  }

  private newSubscription(caller: LiveCaller, matches: LiveSubscription["matches"], onEnd: () => void): LiveSubscription {
    const group = this.groupOf(caller);
    group.refs++;
    const sub = new LiveSubscription(caller.accountId, caller.subscriptionId, caller.sink, group, this.options.bufferMessages, matches, () => {
      this.all.delete(sub);
      if (--group.refs === 0) this.groups.delete(group.key);
      onEnd();
    });
    this.all.add(sub);
    return sub;
  }

  private groupOf(caller: LiveCaller): RenderGroup {
    const { info } = caller;
    const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] };
    // Variables of the root field's arguments (types, sources, after, hookId) select events, they
    // do not change how one renders: subscribers differing only there share the group.
    const used = new Set<string>();
    const collect = (node: Parameters<typeof visit>[0]) =>
      visit(node, {
        Variable(v) {
          used.add(v.name.value);
        },
      });
    for (const node of info.fieldNodes) {
      if (node.selectionSet) collect(node.selectionSet);
      for (const d of node.directives ?? []) collect(d);
    }
    for (const fragment of Object.values(info.fragments)) collect(fragment);
    const variables = Object.fromEntries([...used].sort().map((name) => [name, info.variableValues[name]]));
    const key = `${caller.accountId}\n${print(document)}\n${JSON.stringify(variables)}`;
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = new RenderGroup(key, info.schema, document, info.variableValues, caller.contextValue, this.deps.logger, () => this.renders++)));
    return group;
  }

  private async replay(feed: AccountFeed, sub: LiveSubscription, args: EventsStreamArgs): Promise<void> {
    await feed.ready;
    if (args.after === undefined) return feed.join(sub, true);
    sub.last = args.after;
    const pageSize = Math.max(1, Math.min(PAGE, Math.floor(sub.limit / 2)));
    for (;;) {
      if (sub.closed) return;
      await sub.drained();
      if (sub.closed) return;
      // Everything up to the reader's head is committed, so a short page proves that no matching
      // event up to it is missing: the position may jump there (sparse filters stay cheap).
      const known = feed.head;
      const rows = await this.deps.db.read((m) =>
        m.find(EventEntity, {
          where: {
            accountId: sub.accountId,
            sequence: MoreThan(sub.last),
            ...(args.types ? { type: In(args.types) } : {}),
            ...(args.sources ? { source: In(args.sources) } : {}),
          },
          order: { sequence: "ASC" },
          take: pageSize,
        }),
      );
      const payloads = await Promise.all(rows.map((e) => sub.group.render(renderEvent(e))));
      rows.forEach((e, i) => this.send(sub, e, payloads[i]));
      if (rows.length) sub.last = rows[rows.length - 1].sequence;
      if (rows.length < pageSize) {
        if (sub.last < known) sub.last = known;
        return feed.join(sub, false);
      }
    }
  }

  private onDeliveries(notice: DeliveryNotice): void {
    const subs = this.deliverySubs.get(notice.accountId);
    if (!subs || subs.size === 0) return;
    const targets = [...subs];
    this.deliveryChain = this.deliveryChain
      .then(async () => {
        const cache = new Map<RenderGroup, Map<string, Promise<Buffer>>>();
        const plan = targets.map((sub) => {
          const mine = notice.deliveries.filter((d) => sub.matches(d as never));
          return {
            sub,
            mine,
            payloads: mine.map((d) => {
              let byId = cache.get(sub.group);
              if (!byId) cache.set(sub.group, (byId = new Map()));
              let p = byId.get(d.id);
              if (!p) byId.set(d.id, (p = sub.group.render(deliveryRoot(d))));
              return p;
            }),
          };
        });
        const rendered = await Promise.all(plan.map((p) => Promise.all(p.payloads)));
        plan.forEach(({ sub, mine }, i) => {
          if (mine.length && sub.behind) return sub.tooSlow();
          mine.forEach((d, j) => this.send(sub, d, rendered[i][j]));
        });
      })
      .catch((error) => this.deps.logger.error({ err: error }, "live delivery updates failed"));
  }

  /** Wakes the readers of accounts whose log moved past their head (covers lost notices). */
  private async safetyPoll(): Promise<void> {
    if (this.polling || this.feeds.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.feeds.keys()];
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await this.deps.db.read((m) => m.find(AccountEntity, { where: { id: In(ids.slice(i, i + 500)) }, select: { id: true, eventSeq: true } }));
        for (const r of rows) {
          const feed = this.feeds.get(r.id);
          if (feed && r.eventSeq > feed.head) feed.wake();
        }
      }
    } catch (error) {
      this.deps.logger.warn({ err: error }, "live safety poll failed");
    } finally {
      this.polling = false;
    }
  }
}

/** The `Delivery` GraphQL root of a published state (dates back to Date). */
function deliveryRoot(d: DeliveryState) {
  const date = (s: string | null) => (s ? new Date(s) : null);
  return { ...d, nextAttemptAt: date(d.nextAttemptAt), deliveredAt: date(d.deliveredAt), createdAt: new Date(d.createdAt), updatedAt: new Date(d.updatedAt) };
}
