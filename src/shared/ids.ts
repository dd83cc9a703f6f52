import { randomBytes } from "node:crypto";

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/** Id prefixes by resource; the part after `_` is opaque. */
export type IdPrefix = "acc" | "key" | "con" | "lst" | "evt" | "hook" | "dlv" | "att" | "msg";

/**
 * A new prefixed, time-ordered id (`con_01j…`): 10 characters of millisecond time then 16 random
 * ones (80 bits), in lowercase Crockford base32. Time order keeps inserts at the end of indexes
 * and gives keyset pagination a stable order.
 */
export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(10);
  let rand = "";
  // 80 bits -> 16 base32 characters, 5 bits each.
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
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

/** A random url-safe token of `bytes` random bytes (API keys, handshake secrets, public tokens). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
