import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { addressRefusal, checkEgressUrl, parseAddress, type Resolver } from "../../src/delivery/egress.js";

/**
 * Properties of the egress guard's address parsing (fast-check): an IPv4 address written in any
 * notation a URL host accepts (decimal, octal, hex, short forms, IPv4-mapped IPv6) is read as
 * the same address, and judged by ipaddr.js's range of that canonical address. No notation of a
 * loopback, private, link-local, CGNAT or other non-public address is ever allowed.
 */

const noResolver: Resolver = async (host) => {
  throw new Error(`resolver called for ${host}`);
};

const octets = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const dotted = (n: number) => octets(n).join(".");

/** One number as written in a radix a URL host accepts: decimal, octal (`0` prefix) or hex (`0x`/`0X`). */
function inRadix(value: number, radix: "dec" | "oct" | "hex" | "HEX"): string {
  if (radix === "dec") return String(value);
  if (radix === "oct") return `0${value.toString(8)}`;
  return radix === "hex" ? `0x${value.toString(16)}` : `0X${value.toString(16).toUpperCase()}`;
}

const radixArb = fc.constantFrom("dec" as const, "oct" as const, "hex" as const, "HEX" as const);

/** Every IPv4 notation of `n`: [form, is IPv4-mapped IPv6]. */
function notations(n: number, radixes: Array<"dec" | "oct" | "hex" | "HEX">): Array<[string, boolean]> {
  const [a, b, c, d] = octets(n);
  const r = (i: number) => radixes[i % radixes.length];
  const hex = (x: number) => x.toString(16);
  return [
    [dotted(n), false],
    [`${dotted(n)}.`, false],
    [String(n), false],
    [inRadix(n, r(0)), false],
    [[a, b, c, d].map((x, i) => inRadix(x, r(i))).join("."), false],
    [`${inRadix(a, r(1))}.${inRadix(b, r(2))}.${inRadix((c << 8) | d, r(3))}`, false], // a.b.c (c: 16 bits)
    [`${inRadix(a, r(2))}.${inRadix(n & 0xffffff, r(3))}`, false], // a.b (b: 24 bits)
    [`[::ffff:${dotted(n)}]`, true],
    [`[::ffff:${hex(n >>> 16)}:${hex(n & 0xffff)}]`, true],
    [`[0:0:0:0:0:ffff:${dotted(n)}]`, true],
    [`[::FFFF:${hex(n >>> 16).toUpperCase()}:${hex(n & 0xffff).toUpperCase()}]`, true],
  ];
}

/** Any IPv4 address, with the interesting ranges drawn far more often than chance would. */
const SPECIAL = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4"];
function inCidr(cidr: string) {
  const [base, bits] = ipaddr.IPv4.parseCIDR(cidr);
  const start = base.toByteArray().reduce((acc, x) => acc * 256 + x, 0);
  return fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((offset) => start + offset);
}
const ipv4Arb = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), ...SPECIAL.map(inCidr), fc.constant(0xffffffff));
/** Only addresses the guard must refuse even with allowPrivate off: loopback and private. */
const privateArb = fc.oneof(inCidr("127.0.0.0/8"), inCidr("10.0.0.0/8"), inCidr("172.16.0.0/12"), inCidr("192.168.0.0/16"), inCidr("169.254.0.0/16"), inCidr("100.64.0.0/10"), inCidr("0.0.0.0/8"));

const ALLOWED_WITH_PRIVATE = new Set(["unicast", "loopback", "private"]);

describe("egress guard properties", () => {
  it("every notation of an IPv4 address parses to that address and is judged by ipaddr.js's range of it", () => {
    fc.assert(
      fc.property(ipv4Arb, fc.array(radixArb, { minLength: 4, maxLength: 4 }), (n, radixes) => {
        const canonical = dotted(n);
        const range = ipaddr.IPv4.parse(canonical).range();
        for (const [form, mapped] of notations(n, radixes)) {
          const ip = parseAddress(form);
          expect(ip, form).not.toBeNull();
          const v4 = mapped ? (ip as ipaddr.IPv6).toIPv4Address() : ip!;
          expect(v4.toString(), form).toBe(canonical);
          const refusal = addressRefusal(form);
          expect(refusal === null, `${form} (${canonical}, ${range}): ${refusal}`).toBe(range === "unicast");
          if (refusal && mapped) expect(refusal).toMatch(/IPv4-mapped/);
          expect(addressRefusal(form, true) === null, `${form} with allowPrivate`).toBe(ALLOWED_WITH_PRIVATE.has(range));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("no notation of a loopback, private, link-local, CGNAT or 0/8 address is ever allowed, as an address or in a URL", async () => {
    await fc.assert(
      fc.asyncProperty(privateArb, fc.array(radixArb, { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 65_535 }), async (n, radixes, port) => {
        for (const [form] of notations(n, radixes)) {
          expect(addressRefusal(form), form).not.toBeNull();
          const verdict = await checkEgressUrl(`http://${form}:${port}/hook`, { resolve: noResolver });
          expect(verdict, `http://${form}:${port}/hook`).not.toBeNull();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("IPv4-compatible (::a.b.c.d) forms are always refused; NAT64 forms follow the embedded address", () => {
    fc.assert(
      fc.property(ipv4Arb, (n) => {
        const canonical = dotted(n);
        expect(addressRefusal(`::${canonical}`), `::${canonical}`).not.toBeNull();
        const range = ipaddr.IPv4.parse(canonical).range();
        expect(addressRefusal(`64:ff9b::${canonical}`) === null, `64:ff9b::${canonical}`).toBe(range === "unicast");
      }),
      { numRuns: 300 },
    );
  });

  it("random text that is not an address is never read as one that is allowed without resolution", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const ip = parseAddress(text);
        // Whatever parses must be a real address (ipaddr agrees), and its verdict follows its range.
        if (ip) expect(ipaddr.isValid(ip.toString())).toBe(true);
        else expect(addressRefusal(text)).toMatch(/not an IP address/);
      }),
      { numRuns: 500 },
    );
  });
});
