/**
 * The last check before a live message leaves (issue 5: "each event is checked against the
 * subscriber's account before it is sent"): `LiveHub.send` refuses, and logs, an item of another
 * account even when everything before it let the item through.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MemoryEventBus } from "../../src/events/event-bus.js";
import { LiveHub, LiveSubscription, type LiveSink } from "../../src/realtime/live-hub.js";
import { createLogger } from "../../src/shared/logger.js";
import { openTestDb } from "../helpers/db.js";

const closers: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe("LiveHub.send", () => {
  it("refuses and logs an item of another account, and sends the subscriber's own", async () => {
    const { db, close } = await openTestDb("sqlite");
    closers.push(close);
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) });
    const hub = new LiveHub({ db, bus: new MemoryEventBus(), logger }, { bufferMessages: 10, pollMs: 60_000 });
    closers.push(() => hub.close());

    const frames: string[] = [];
    const sink: LiveSink = {
      send: (frame, done) => {
        frames.push(frame.toString("utf8"));
        done();
      },
      close: () => {},
    };
    // A subscription whose filter lets everything through: only send() stands in the way.
    // send() does not render, so the subscription needs no render group.
    const sub = new LiveSubscription("acc_mine", "op-1", sink, undefined as never, 10, () => true, () => {});

    hub.send(sub, { accountId: "acc_other", id: "evt_of_other" }, Buffer.from(`{"data":{"events":{"id":"evt_of_other"}}}`));
    expect(frames).toEqual([]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, itemId: "evt_of_other", accountId: "acc_mine", msg: "live stream refused an item of another account" }));

    hub.send(sub, { accountId: "acc_mine", id: "evt_mine" }, Buffer.from(`{"data":{"events":{"id":"evt_mine"}}}`));
    expect(frames.map((f) => JSON.parse(f))).toEqual([{ id: "op-1", type: "next", payload: { data: { events: { id: "evt_mine" } } } }]);
    expect(lines.filter((l) => l.itemId === "evt_mine")).toEqual([]);
  });
});
