import { randomBytes } from "node:crypto";

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/** Id prefixes by resource; the part after `_` is opaque. */
export type IdPrefix = "acc" | "key" | "con" | "lst" | "evt" | "hook" | "dlv" | "att" | "msg" | "bat";

/** Time and random part of the last id handed out, so that ids made in one millisecond still ascend. */
let lastTime = -1;
const lastRandom = new Uint8Array(10);

/**
 * A new prefixed, time-ordered id (`con_01j…`): 10 characters of millisecond time then 16 random
 * ones (80 bits), in lowercase Crockford base32. Time order keeps inserts at the end of indexes
 * and gives keyset pagination a stable order. Monotonic within a process (as ULID's monotonic
 * factory): an id made in the same millisecond as the previous one (or while the clock stands
 * behind it) reuses that time and increments the random part, so a page cursor never lands after
 * a contact created later.
 */
export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    lastRandom.set(randomBytes(10));
  } else if (!increment(lastRandom)) {
    // 2^80 ids in one millisecond: move on to the next one.
    lastTime += 1;
    lastRandom.set(randomBytes(10));
  }
  let time = "";
  let t = lastTime;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = "";
  // 80 bits -> 16 base32 characters, 5 bits each.
  let acc = 0;
  let bits = 0;
  for (const b of lastRandom) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      rand += CROCKFORD[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return `${prefix}_${time}${rand}`;
}

/** Adds one to a big-endian byte string; false when it wrapped around (2^80 ids in one ms). */
function increment(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 255) {
      bytes[i]++;
      return true;
    }
    bytes[i] = 0;
  }
  return false;
}

/** A random url-safe token of `bytes` random bytes (API keys, handshake secrets, public tokens). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
