import { describe, expect, it } from "vitest";
import { orderingKeyOf, queueOptionsOf } from "../../src/delivery/queue.js";
import { batchBody } from "../../src/delivery/payload.js";
import { checkBatch } from "../../src/hooks/hook.service.js";

describe("ordering keys", () => {
  it("STRICT keys by hook, PER_CONTACT by hook and contact (no contact: the hook's own stream), NONE not at all", () => {
    expect(orderingKeyOf({ id: "hook_1", ordering: "STRICT" }, { contactId: "con_A" })).toBe("hook_1");
    expect(orderingKeyOf({ id: "hook_1", ordering: "PER_CONTACT" }, { contactId: "con_A" })).toBe("hook_1:con_A");
    expect(orderingKeyOf({ id: "hook_1", ordering: "PER_CONTACT" }, { contactId: null })).toBe("hook_1:");
    expect(orderingKeyOf({ id: "hook_1", ordering: "NONE" }, { contactId: "con_A" })).toBeNull();
    expect(queueOptionsOf({ id: "hook_1", ordering: "NONE", batchMaxSize: 10 }, { contactId: null })).toEqual({ orderingKey: null, batched: true });
    expect(queueOptionsOf({ id: "hook_1", ordering: "STRICT", batchMaxSize: null }, { contactId: null })).toEqual({ orderingKey: "hook_1", batched: false });
  });

  it("keys fit the 80-character column", () => {
    expect(orderingKeyOf({ id: "h".repeat(32), ordering: "PER_CONTACT" }, { contactId: "c".repeat(32) })!.length).toBeLessThanOrEqual(80);
  });
});

describe("batches", () => {
  it("splices the members' bodies, byte for byte, into {batch: [...]}", () => {
    const bodies = [JSON.stringify({ id: "evt_1", sequence: 1, data: { a: "ü" } }), JSON.stringify({ id: "evt_2", sequence: 2, data: null })];
    const body = batchBody(bodies);
    expect(JSON.parse(body)).toEqual({ batch: bodies.map((b) => JSON.parse(b)) });
    expect(body).toContain(bodies[0]);
    expect(batchBody([])).toBe('{"batch":[]}');
  });

  it("validates maxSize 1..1000 and maxWaitMs 0..3600000 (default 1000), naming the field", () => {
    expect(checkBatch(null, "input.batch")).toEqual({ batchMaxSize: null, batchMaxWaitMs: null });
    expect(checkBatch({ maxSize: 1 }, "input.batch")).toEqual({ batchMaxSize: 1, batchMaxWaitMs: 1_000 });
    expect(checkBatch({ maxSize: 1000, maxWaitMs: 0 }, "input.batch")).toEqual({ batchMaxSize: 1000, batchMaxWaitMs: 0 });
    expect(checkBatch({ maxSize: 5, maxWaitMs: 3_600_000 }, "input.batch").batchMaxWaitMs).toBe(3_600_000);
    for (const [batch, field] of [
      [{ maxSize: 0 }, "input.batch.maxSize"],
      [{ maxSize: 1001 }, "input.batch.maxSize"],
      [{ maxSize: 2.5 }, "input.batch.maxSize"],
      [{ maxSize: 5, maxWaitMs: -1 }, "input.batch.maxWaitMs"],
      [{ maxSize: 5, maxWaitMs: 3_600_001 }, "input.batch.maxWaitMs"],
    ] as const) {
      expect(() => checkBatch(batch, "input.batch"), JSON.stringify(batch)).toThrow(expect.objectContaining({ code: "BAD_USER_INPUT", field }));
    }
  });
});
