import dns from "node:dns";
import net, { isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * The egress guard: which addresses Hookcast may open a connection to on a user's behalf.
 *
 * Every address is parsed with `ipaddr.js` and classified by its `range()`; only `unicast` passes
 * (for IPv6 also only inside global unicast 2000::/3). IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is
 * judged as the IPv4 address it maps to; NAT64 (`64:ff9b::/96`) as the IPv4 address it embeds.
 * IPv4-compatible (`::a.b.c.d`), 6to4, Teredo and SIIT (`::ffff:0:a.b.c.d`) forms are always
 * refused: deprecated or tunnelling forms with no legitimate use for a webhook target.
 * See docs/security.md, "Egress guard".
 */

/** One address a resolver returned. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (like `dns.lookup` with `all: true`). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** What the guard allows, and how it resolves names. */
export interface EgressPolicy {
  /**
   * Also allow loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16) and unique-local
   * (fc00::/7) targets: local development and tests only. Default false.
   */
  allowPrivate?: boolean;
  /** Name resolution; default `dns.lookup` with `all: true`. Tests inject one. */
  resolve?: Resolver;
  /**
   * Opens the TCP connection to one address the guard has checked; default {@link systemDialer}
   * (`net.connect`). The guard calls it only with an IP address that passed, never with a name,
   * so tests inject one to see which address would be dialled (and hand back a socket to a
   * loopback server instead). TLS is layered on the returned socket by the connector, verified
   * against the URL's host name, so a dialer cannot change what the certificate must prove.
   */
  dial?: Dialer;
}

/** What the guard asks a {@link Dialer} for: a TCP connection to one checked address. */
export interface DialOptions {
  /** The checked IP address to connect to: never a name, never a refused address. */
  host: string;
  port: number;
  family: 4 | 6;
  /** The URL's host (a name, or the literal address as written there): for logs only, never to resolve. */
  hostname: string;
}

/** Opens a TCP connection to `options.host:options.port`; the socket may still be connecting. */
export type Dialer = (options: DialOptions) => net.Socket;

/** The default dialer: `net.connect` to the checked address, no name resolution. */
export const systemDialer: Dialer = ({ host, port, family }) => net.connect({ host, port, family });

/** The `code` of {@link EgressRefusedError}. */
export const EGRESS_REFUSED = "EGRESS_REFUSED";

/** Every refusal's text starts with this, on attempts and in handshake errors. */
export const EGRESS_REFUSED_PREFIX = "egress refused:";

/** A target the guard refused; raised before any socket to it is opened. */
export class EgressRefusedError extends Error {
  readonly code = EGRESS_REFUSED;

  /** `reason` is short and safe to show to the hook's owner, e.g. `127.0.0.1 is loopback`. */
  constructor(readonly reason: string) {
    super(`${EGRESS_REFUSED_PREFIX} ${reason}`);
    this.name = "EgressRefusedError";
  }
}

/** The default resolver: the system's (`getaddrinfo`), every address, in its order. */
export const systemResolver: Resolver = async (hostname) => {
  const addresses = await dns.promises.lookup(hostname, { all: true });
  return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

// ipaddr.js range names → what a refusal says.
const RANGE_LABELS: Record<string, string> = {
  unspecified: "unspecified (0.0.0.0/8, ::)",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local (169.254.0.0/16, fe80::/10)",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade NAT (100.64.0.0/10)",
  private: "private (10/8, 172.16/12, 192.168/16)",
  reserved: "reserved",
  as112: "reserved (AS112)",
  amt: "reserved (AMT)",
  uniqueLocal: "unique local (fc00::/7)",
  deprecatedSiteLocal: "site-local (fec0::/10)",
  discard: "discard-only (100::/64)",
  benchmarking: "reserved (benchmarking)",
  as112v6: "reserved (AS112)",
  deprecatedOrchid: "reserved (ORCHID)",
  orchid2: "reserved (ORCHIDv2)",
  droneRemoteIdProtocolEntityTags: "reserved (DRIP)",
  segmentRouting: "reserved (segment routing)",
};

// Opened by allowPrivate: what a developer's own machine and LAN use. Never link-local (cloud
// metadata lives at 169.254.169.254), never CGNAT (a provider's network, not yours), never
// unspecified (connecting to 0.0.0.0 or :: reaches loopback on Linux, but nobody means it).
const PRIVATE_RANGES = new Set(["loopback", "private", "uniqueLocal"]);

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parse("2000::");
const NAT64_WELL_KNOWN = ipaddr.IPv6.parse("64:ff9b::");

/**
 * Parses a host that is an IP address in any notation (`127.0.0.1`, `2130706433`, `0177.0.0.1`,
 * `0x7f.1`, `127.1`, `127.0.0.1.`, `[::ffff:127.0.0.1]`, `fe80::1%eth0`); null when it is a name.
 *
 * The WHATWG URL host parser is the reference: it is what turned the webhook URL into the host
 * that undici connects to, so the guard reads every notation exactly as the connection will.
 * (ipaddr.js's own parser differs on one form: it reads `::a.b.c.d` as IPv4-mapped, where WHATWG
 * and the socket layer read IPv4-compatible `::a.b.c.d`.) ipaddr.js then classifies the result.
 */
export function parseAddress(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  let text = host.trim();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (text.includes(":")) {
    // A zone id (`%eth0`) does not change the range; WHATWG rejects it, so it goes first.
    const address = text.split("%", 1)[0];
    if (!/^[0-9a-f:.]+$/i.test(address)) return null;
    const canonical = whatwgHost(`[${address}]`)?.slice(1, -1);
    return canonical && isIPv6(canonical) ? ipaddr.IPv6.parse(canonical) : null;
  }
  if (!/^[0-9a-fx.]+$/i.test(text)) return null;
  const canonical = whatwgHost(text);
  return canonical && isIPv4(canonical) ? ipaddr.IPv4.parse(canonical) : null;
}

/** The host of `http://<host>/` as WHATWG normalizes it; null when that URL is invalid. */
function whatwgHost(host: string): string | null {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return null;
  }
}

function v4FromLow32(ip: ipaddr.IPv6): ipaddr.IPv4 {
  const [hi, lo] = [ip.parts[6], ip.parts[7]];
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * What kind of refused address `ip` is ("loopback", "IPv4-mapped private (...)", "6to4 (...)"),
 * or null when it is allowed. Names the range only, never the address.
 */
export function refusedRange(ip: ipaddr.IPv4 | ipaddr.IPv6, allowPrivate = false): string | null {
  const label = (range: string) => RANGE_LABELS[range] ?? range;
  if (ip.kind() === "ipv4") {
    const range = ip.range();
    if (range === "unicast" || (allowPrivate && PRIVATE_RANGES.has(range))) return null;
    return label(range);
  }
  const v6 = ip as ipaddr.IPv6;
  const range = v6.range();
  if (range === "ipv4Mapped") {
    const inner = refusedRange(v6.toIPv4Address(), allowPrivate);
    return inner && `IPv4-mapped ${inner}`;
  }
  if (range === "rfc6052" && v6.match(NAT64_WELL_KNOWN, 96)) {
    const inner = refusedRange(v4FromLow32(v6), allowPrivate);
    return inner && `NAT64-embedded ${inner}`;
  }
  if (range === "unspecified") return label(range);
  // ::a.b.c.d (::/96 but :: and ::1): ipaddr calls it unicast, yet a stack may route it as IPv4.
  if (range !== "loopback" && v6.parts.slice(0, 6).every((p) => p === 0)) return "IPv4-compatible (::/96, deprecated)";
  if (range === "rfc6145") return "IPv4-translated (::ffff:0:0/96)";
  if (range === "rfc6052") return "local-use NAT64 (64:ff9b:1::/48)";
  if (range === "6to4") return "6to4 (2002::/16)";
  if (range === "teredo") return "Teredo (2001::/32)";
  if (range === "unicast") return v6.match(GLOBAL_UNICAST_V6, 3) ? null : "reserved (outside global unicast 2000::/3)";
  if (allowPrivate && PRIVATE_RANGES.has(range)) return null;
  return label(range);
}

/** Why `ip` is refused (`"127.0.0.1 is loopback"`), or null when it is allowed. */
export function refusalOf(ip: ipaddr.IPv4 | ipaddr.IPv6, allowPrivate = false): string | null {
  const range = refusedRange(ip, allowPrivate);
  return range && `${ip.toString()} is ${range}`;
}

/** Why the address `text` is refused (null = allowed); a text that is not an address is refused. */
export function addressRefusal(text: string, allowPrivate = false): string | null {
  const ip = parseAddress(text);
  return ip ? refusalOf(ip, allowPrivate) : `${JSON.stringify(text)} is not an IP address`;
}

/**
 * Resolves `hostname` and checks EVERY address: one refused address refuses the host (a
 * rebinding name may answer a public and a private address at once). Returns the addresses,
 * all checked, in resolver order. Throws {@link EgressRefusedError}; resolver errors pass through.
 */
export async function resolveChecked(hostname: string, policy: EgressPolicy): Promise<ResolvedAddress[]> {
  const addresses = await (policy.resolve ?? systemResolver)(hostname);
  if (addresses.length === 0) throw Object.assign(new Error(`no addresses for ${hostname}`), { code: "ENOTFOUND" });
  for (const a of addresses) {
    const ip = parseAddress(a.address);
    const range = ip ? refusedRange(ip, policy.allowPrivate) : "not an IP address";
    // The range is named, the address is not: the error must not make Hookcast a probe of
    // internal DNS.
    if (range) throw new EgressRefusedError(`${hostname} resolves to a refused address (${range})`);
  }
  return addresses;
}

/**
 * The addresses a connection to `hostname` may dial, all checked: a literal address (as undici
 * passes it, IPv6 without brackets) is judged as is and never resolved; a name goes through
 * {@link resolveChecked}. Throws {@link EgressRefusedError}; resolver errors pass through.
 */
export async function checkedTargets(hostname: string, policy: EgressPolicy): Promise<ResolvedAddress[]> {
  const literal = parseAddress(hostname);
  if (!literal) return resolveChecked(hostname, policy);
  const refused = refusalOf(literal, policy.allowPrivate);
  if (refused) throw new EgressRefusedError(refused);
  return [{ address: literal.toString(), family: literal.kind() === "ipv6" ? 6 : 4 }];
}

/**
 * The guard's verdict on a URL before anything is sent: null when allowed, else the reason.
 * A literal address is judged as written (after WHATWG normalization); a name is resolved with
 * the policy's resolver and every address judged. A name that does not resolve (or not within
 * `timeoutMs`, default 5 s) is not refused here: the send-time check, which runs on every
 * connection, decides then. Throws only on a URL that does not parse.
 */
export async function checkEgressUrl(url: string, policy: EgressPolicy, timeoutMs = 5_000): Promise<string | null> {
  const { hostname } = new URL(url);
  const literal = parseAddress(hostname);
  if (literal) return refusalOf(literal, policy.allowPrivate);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    await Promise.race([resolveChecked(hostname, policy), timeout]);
    return null;
  } catch (error) {
    if (error instanceof EgressRefusedError) return error.reason;
    return null;
  } finally {
    clearTimeout(timer);
  }
}
