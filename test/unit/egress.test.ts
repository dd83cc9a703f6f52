import { createServer, type Server } from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { connect, Socket, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { addressRefusal, checkEgressUrl, EgressRefusedError, resolveChecked, type DialOptions, type Dialer, type EgressPolicy, type ResolvedAddress, type Resolver } from "../../src/delivery/egress.js";
import { guardedConnector, HttpClient, interleaveFamilies } from "../../src/delivery/http-client.js";
import { loopbackOnlyDial, waitFor } from "../helpers/app.js";

// No test here opens a socket to anything but 127.0.0.1: non-loopback addresses only ever come
// out of injected resolvers, and the guard refuses them before net.connect would dial.

const PUBLIC = null;

/**
 * [address as written, verdict by default, verdict with allowPrivate]: null = allowed, else a
 * pattern the refusal reason must match. Raw notations are parsed by ipaddr.js directly.
 */
const TABLE: Array<[string, RegExp | null, RegExp | null]> = [
  // IPv4 loopback in every notation
  ["127.0.0.1", /loopback/, PUBLIC],
  ["127.255.255.254", /loopback/, PUBLIC],
  ["2130706433", /127\.0\.0\.1 is loopback/, PUBLIC],
  ["0177.0.0.1", /127\.0\.0\.1 is loopback/, PUBLIC],
  ["0x7f.1", /127\.0\.0\.1 is loopback/, PUBLIC],
  ["0x7f000001", /127\.0\.0\.1 is loopback/, PUBLIC],
  ["127.1", /127\.0\.0\.1 is loopback/, PUBLIC],
  ["127.0.0.1.", /loopback/, PUBLIC],
  // private, opened by allowPrivate
  ["10.0.0.5", /private/, PUBLIC],
  ["172.16.0.1", /private/, PUBLIC],
  ["172.31.255.255", /private/, PUBLIC],
  ["192.168.1.1", /private/, PUBLIC],
  ["012.0.0.1", /10\.0\.0\.1 is private/, PUBLIC],
  // never opened
  ["169.254.169.254", /link-local/, /link-local/],
  ["169.254.0.1", /link-local/, /link-local/],
  ["100.64.0.1", /carrier-grade NAT/, /carrier-grade NAT/],
  ["100.127.255.254", /carrier-grade NAT/, /carrier-grade NAT/],
  ["0.0.0.0", /unspecified/, /unspecified/],
  ["0", /unspecified/, /unspecified/],
  ["0.1.2.3", /unspecified/, /unspecified/],
  ["224.0.0.1", /multicast/, /multicast/],
  ["239.255.255.250", /multicast/, /multicast/],
  ["255.255.255.255", /broadcast/, /broadcast/],
  ["240.0.0.1", /reserved/, /reserved/],
  ["192.0.2.1", /reserved/, /reserved/],
  ["198.18.0.1", /reserved/, /reserved/],
  ["192.0.0.8", /reserved/, /reserved/],
  // IPv6
  ["::1", /loopback/, PUBLIC],
  ["[::1]", /loopback/, PUBLIC],
  ["0:0:0:0:0:0:0:1", /loopback/, PUBLIC],
  ["::", /unspecified/, /unspecified/],
  ["fc00::1", /unique local/, PUBLIC],
  ["fd12:3456:789a::1", /unique local/, PUBLIC],
  ["fe80::1", /link-local/, /link-local/],
  ["fe80::1%eth0", /link-local/, /link-local/],
  ["febf:ffff::1", /link-local/, /link-local/],
  ["fec0::1", /site-local/, /site-local/],
  ["ff02::1", /multicast/, /multicast/],
  ["100::1", /discard/, /discard/],
  ["2001:db8::1", /reserved/, /reserved/],
  ["4000::1", /outside global unicast/, /outside global unicast/],
  // IPv4-mapped: judged as the IPv4 address
  ["::ffff:127.0.0.1", /IPv4-mapped loopback/, PUBLIC],
  ["[::ffff:127.0.0.1]", /IPv4-mapped loopback/, PUBLIC],
  ["::ffff:7f00:1", /IPv4-mapped loopback/, PUBLIC],
  ["0:0:0:0:0:ffff:127.0.0.1", /IPv4-mapped loopback/, PUBLIC],
  ["::FFFF:7F00:0001", /IPv4-mapped loopback/, PUBLIC],
  ["::ffff:10.0.0.1", /IPv4-mapped private/, PUBLIC],
  ["::ffff:169.254.169.254", /IPv4-mapped link-local/, /IPv4-mapped link-local/],
  ["::ffff:0.0.0.0", /IPv4-mapped unspecified/, /IPv4-mapped unspecified/],
  ["::ffff:100.64.0.1", /IPv4-mapped carrier-grade/, /IPv4-mapped carrier-grade/],
  // IPv4-compatible, IPv4-translated, 6to4, Teredo: always refused
  ["::127.0.0.1", /IPv4-compatible/, /IPv4-compatible/],
  ["[::127.0.0.1]", /IPv4-compatible/, /IPv4-compatible/],
  ["::10.0.0.1", /IPv4-compatible/, /IPv4-compatible/],
  ["::8.8.8.8", /IPv4-compatible/, /IPv4-compatible/],
  ["::ffff:0:7f00:1", /IPv4-translated/, /IPv4-translated/],
  ["2002:7f00:1::1", /6to4/, /6to4/],
  ["2002:a00:1::1", /6to4/, /6to4/],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", /Teredo/, /Teredo/],
  // NAT64 (64:ff9b::/96): judged as the embedded IPv4 address; local-use NAT64 refused
  ["64:ff9b::127.0.0.1", /NAT64-embedded loopback/, PUBLIC],
  ["64:ff9b::a9fe:a9fe", /NAT64-embedded link-local/, /NAT64-embedded link-local/],
  ["64:ff9b::5db8:d822", PUBLIC, PUBLIC],
  ["64:ff9b:1::a00:1", /local-use NAT64/, /local-use NAT64/],
  // public
  ["93.184.216.34", PUBLIC, PUBLIC],
  ["8.8.8.8", PUBLIC, PUBLIC],
  ["1.1.1.1", PUBLIC, PUBLIC],
  ["172.32.0.1", PUBLIC, PUBLIC],
  ["100.128.0.1", PUBLIC, PUBLIC],
  ["169.255.0.1", PUBLIC, PUBLIC],
  ["2606:4700::1", PUBLIC, PUBLIC],
  ["[2606:4700::1]", PUBLIC, PUBLIC],
  ["2a00:1450:4001:80b::200e", PUBLIC, PUBLIC],
  ["::ffff:93.184.216.34", PUBLIC, PUBLIC],
];

/** A resolver that must not be called: literal addresses never go through name resolution. */
const noResolver: Resolver = async (host) => {
  throw new Error(`resolver called for ${host}`);
};

/** A resolver from a fixed table that counts its calls. */
function fakeResolver(table: Record<string, string[] | (() => string[])>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    const entry = table[host];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    const addresses = typeof entry === "function" ? entry() : entry;
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

function expectVerdict(actual: string | null, expected: RegExp | null, what: string) {
  if (expected === null) expect(actual, what).toBeNull();
  else expect(actual, what).toMatch(expected);
}

describe("egress guard: addresses", () => {
  it.each(TABLE)("%s", (address, byDefault, withPrivate) => {
    expectVerdict(addressRefusal(address), byDefault, "default");
    expectVerdict(addressRefusal(address, true), withPrivate, "allowPrivate");
  });

  it.each(["example.com", "cafe.babe", "127.0.0.1@evil.test", "127.0.0.1/x", "::1/128", "1.2.3.4.5", "::1::2", ""])("refuses %j: not an address", (text) => {
    expect(addressRefusal(text)).toMatch(/not an IP address/);
  });

  // The same table through URLs: WHATWG normalization (every IPv4 notation → dotted decimal,
  // IPv6 compressed) and then the guard, with no name resolution at all.
  const urlForms = TABLE.filter(([a]) => !a.includes("%") && !a.endsWith("."));
  it.each(urlForms)("as a URL host: %s", async (address, byDefault, withPrivate) => {
    const host = address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
    const url = `http://${host}:8080/hook`;
    expectVerdict(await checkEgressUrl(url, { resolve: noResolver }), byDefault, "default");
    expectVerdict(await checkEgressUrl(url, { allowPrivate: true, resolve: noResolver }), withPrivate, "allowPrivate");
  });

  it("relies on WHATWG URL for IPv4 notations", () => {
    for (const host of ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "127.0.0.1.", "%31%32%37.0.0.1"]) {
      expect(new URL(`http://${host}/`).hostname, host).toBe("127.0.0.1");
    }
    expect(new URL("http://[::ffff:127.0.0.1]/").hostname).toBe("[::ffff:7f00:1]");
  });
});

describe("egress guard: names", () => {
  it("checks every address a name resolves to: one private among public ones refuses", async () => {
    const resolve = fakeResolver({ "mixed.test": ["93.184.216.34", "2606:4700::1", "10.0.0.5"] });
    const error = await resolveChecked("mixed.test", { resolve }).catch((e) => e);
    expect(error).toBeInstanceOf(EgressRefusedError);
    expect(error.message).toBe("egress refused: mixed.test resolves to a refused address (private (10/8, 172.16/12, 192.168/16))");
    // The resolved address is not disclosed.
    expect(error.message).not.toContain("10.0.0.5");
    expect(await checkEgressUrl("https://mixed.test/hook", { resolve })).toMatch(/^mixed\.test resolves to a refused address/);
  });

  it.each([
    [["169.254.169.254"], /link-local/],
    [["::ffff:127.0.0.1"], /IPv4-mapped loopback/],
    [["93.184.216.34", "fe80::1"], /link-local/],
    [["fd00::1"], /unique local/],
  ])("refuses a name resolving to %j", async (addresses, reason) => {
    const resolve = fakeResolver({ "evil.test": addresses });
    expect(await checkEgressUrl("http://evil.test/", { resolve })).toMatch(reason);
  });

  it("allows a name whose every address is public, and private ones only with allowPrivate", async () => {
    const resolve = fakeResolver({ "public.test": ["93.184.216.34", "2606:4700::1"], "lan.test": ["192.168.1.10", "fd00::10"] });
    expect(await resolveChecked("public.test", { resolve })).toEqual([
      { address: "93.184.216.34", family: 4 },
      { address: "2606:4700::1", family: 6 },
    ]);
    expect(await checkEgressUrl("http://lan.test/", { resolve })).toMatch(/private/);
    expect(await checkEgressUrl("http://lan.test/", { resolve, allowPrivate: true })).toBeNull();
  });

  it("does not refuse up front a name that does not resolve or resolves too slowly", async () => {
    const resolve = fakeResolver({});
    expect(await checkEgressUrl("http://nowhere.test/", { resolve })).toBeNull();
    const hanging: Resolver = () => new Promise(() => {});
    expect(await checkEgressUrl("http://slow.test/", { resolve: hanging }, 20)).toBeNull();
  });
});

describe("egress guard: HttpClient", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  function client(egress: EgressPolicy): HttpClient {
    const http = new HttpClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000, egress: { dial: loopbackOnlyDial, ...egress } });
    cleanups.push(() => http.close());
    return http;
  }

  /** A real receiver on 127.0.0.1, port 0, that closes every connection after answering. */
  async function loopbackReceiver(): Promise<{ port: number; requests: string[] }> {
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(`${req.method} ${req.headers.host} ${req.url}`);
      req.resume();
      req.on("end", () => res.writeHead(200, { connection: "close" }).end("ok"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port: (server.address() as AddressInfo).port, requests };
  }

  it.each([
    ["10.0.0.5", /private/],
    ["169.254.169.254", /link-local/],
    ["100.64.0.1", /carrier-grade NAT/],
    ["fd00::1", /unique local/],
  ])("refuses a name resolving to %s before connecting", async (address, reason) => {
    const resolve = fakeResolver({ "internal.test": [address] });
    const res = await client({ resolve }).post("http://internal.test:8080/hook", {}, "{}");
    expect(res.statusCode).toBeUndefined();
    expect(res.error).toMatch(/^egress refused: internal\.test resolves to a refused address/);
    expect(res.error).toMatch(reason);
    expect(resolve.calls).toEqual(["internal.test"]);
  });

  it.each(["http://169.254.169.254/latest/meta-data", "http://2130706433/", "http://[::ffff:10.0.0.1]/", "http://[::127.0.0.1]/", "http://0/"])(
    "refuses the literal %s without resolving or connecting",
    async (url) => {
      const res = await client({ resolve: noResolver }).post(url, {}, "{}");
      expect(res.error).toMatch(/^egress refused: /);
      expect(res.durationMs).toBe(0);
    },
  );

  it("refuses a loopback receiver by default and reaches it with allowPrivate", async () => {
    const r = await loopbackReceiver();
    const refused = await client({}).post(`http://127.0.0.1:${r.port}/hook`, {}, "{}");
    expect(refused.error).toBe("egress refused: 127.0.0.1 is loopback");
    const mapped = await client({}).post(`http://[::ffff:127.0.0.1]:${r.port}/hook`, {}, "{}");
    expect(mapped.error).toBe("egress refused: ::ffff:7f00:1 is IPv4-mapped loopback");
    const byName = await client({}).post(`http://localhost:${r.port}/hook`, {}, "{}");
    expect(byName.error).toMatch(/^egress refused: localhost resolves to a refused address \(loopback\)/);
    expect(r.requests).toEqual([]);

    const allowed = await client({ allowPrivate: true }).post(`http://127.0.0.1:${r.port}/hook`, {}, "{}");
    expect(allowed).toMatchObject({ statusCode: 200, excerpt: "ok" });
    expect(r.requests).toEqual([`POST 127.0.0.1:${r.port} /hook`]);
  });

  it("connects to the address its own lookup checked (a name only the injected resolver knows)", async () => {
    const r = await loopbackReceiver();
    const resolve = fakeResolver({ "receiver.test": ["127.0.0.1"] });
    const refused = await client({ resolve }).post(`http://receiver.test:${r.port}/a`, {}, "{}");
    expect(refused.error).toMatch(/^egress refused: receiver\.test resolves to a refused address \(loopback\)/);
    expect(r.requests).toEqual([]);
    const res = await client({ resolve, allowPrivate: true }).post(`http://receiver.test:${r.port}/b`, {}, "{}");
    expect(res).toMatchObject({ statusCode: 200 });
    expect(r.requests).toEqual([`POST receiver.test:${r.port} /b`]);
  });

  it("closes the DNS-rebinding window: a name public at creation and private at send is refused at send", async () => {
    let answer = ["93.184.216.34"];
    const resolve = fakeResolver({ "rebind.test": () => answer });
    const http = client({ resolve });
    expect(await http.checkUrl("http://rebind.test/hook")).toBeNull();
    answer = ["169.254.169.254"];
    const res = await http.post("http://rebind.test/hook", {}, "{}");
    expect(res.error).toMatch(/^egress refused: rebind\.test resolves to a refused address \(link-local/);
    expect(resolve.calls).toEqual(["rebind.test", "rebind.test"]);
  });

  it("refuses in the connector too: neither a refused literal nor a refused name reaches the dialer", async () => {
    const resolve = fakeResolver({ "internal.test": ["10.1.2.3"] });
    const dialled: DialOptions[] = [];
    const connect = guardedConnector({ resolve, dial: (options) => (dialled.push(options), new Socket()) }, 1_000);
    const dial = (hostname: string) =>
      new Promise<Error | null>((done) => connect({ hostname, protocol: "http:", port: "8080" }, (err, socket) => (socket?.destroy(), done(err))));
    for (const hostname of ["127.0.0.1", "169.254.169.254", "::1", "::ffff:7f00:1", "fd00::1"]) {
      const err = await dial(hostname);
      expect(err, hostname).toBeInstanceOf(EgressRefusedError);
      expect(err?.message, hostname).toMatch(/^egress refused: /);
    }
    const byName = await dial("internal.test");
    expect(byName).toBeInstanceOf(EgressRefusedError);
    expect(resolve.calls).toEqual(["internal.test"]);
    expect(dialled).toEqual([]);
  });

  it("checks the URL up front with the same policy", async () => {
    const http = client({ resolve: fakeResolver({ "lan.test": ["192.168.0.2"] }) });
    expect(await http.checkUrl("http://lan.test/")).toMatch(/private/);
    expect(await http.checkUrl("http://[fe80::1]/")).toBe("fe80::1 is link-local (169.254.0.0/16, fe80::/10)");
    expect(await http.checkUrl("https://93.184.216.34/")).toBeNull();
  });
});

// The dialer is where a connection's address is chosen. These tests inject one that records what
// it was asked to dial and, instead of opening a socket to that (public) address, connects to a
// loopback receiver: the request still completes end to end, and no socket leaves 127.0.0.1.
describe("egress guard: injected dialer", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  /** A receiver on 127.0.0.1 that closes every connection after answering (each post dials anew). */
  async function loopbackReceiver(): Promise<{ port: number; requests: string[] }> {
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(`${req.headers.host} ${req.url}`);
      req.resume();
      req.on("end", () => res.writeHead(200, { connection: "close" }).end("ok"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port: (server.address() as AddressInfo).port, requests };
  }

  /** Records every dial; connects to `route(options)` on 127.0.0.1 (default: the receiver). */
  function loopbackDialer(port: number, route: (options: DialOptions) => number = () => port): Dialer & { calls: DialOptions[] } {
    const calls: DialOptions[] = [];
    const dial: Dialer = (options) => {
      calls.push({ ...options });
      return connect({ host: "127.0.0.1", port: route(options) });
    };
    return Object.assign(dial, { calls });
  }

  function client(egress: EgressPolicy, extraCa?: string[]): HttpClient {
    const http = new HttpClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000, egress, extraCa });
    cleanups.push(() => http.close());
    return http;
  }

  /** A self-signed certificate for `name` (openssl), removed after the test. */
  function selfSigned(name: string): { key: Buffer; cert: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), "hookcast-tls-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`, "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
    return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  }

  it("dials exactly the checked public address, never the name, and the request completes", async () => {
    const r = await loopbackReceiver();
    const resolve = fakeResolver({ "public.test": ["93.184.216.34"] });
    const dial = loopbackDialer(r.port);
    const res = await client({ resolve, dial }).post("http://public.test:8080/hook", {}, "{}");
    expect(res).toMatchObject({ statusCode: 200, excerpt: "ok" });
    expect(dial.calls).toEqual([{ host: "93.184.216.34", port: 8080, family: 4, hostname: "public.test" }]);
    // The request itself still names the URL's host.
    expect(r.requests).toEqual(["public.test:8080 /hook"]);
  });

  it("dials a literal public address as normalized, without resolving", async () => {
    const r = await loopbackReceiver();
    const dial = loopbackDialer(r.port);
    const http = client({ resolve: noResolver, dial });
    expect(await http.post("http://1572395042/a", {}, "{}")).toMatchObject({ statusCode: 200 });
    expect(await http.post("http://[2606:4700:0::1]:8443/b", {}, "{}")).toMatchObject({ statusCode: 200 });
    expect(dial.calls).toEqual([
      { host: "93.184.216.34", port: 80, family: 4, hostname: "93.184.216.34" },
      { host: "2606:4700::1", port: 8443, family: 6, hostname: "2606:4700::1" },
    ]);
  });

  it.each([
    [["93.184.216.34", "10.0.0.5"], /private/],
    [["169.254.169.254"], /link-local/],
    [["127.0.0.1", "::1"], /loopback/],
    [["2606:4700::1", "::ffff:169.254.169.254"], /IPv4-mapped link-local/],
  ])("never dials when %j includes a refused address", async (addresses, reason) => {
    const r = await loopbackReceiver();
    const resolve = fakeResolver({ "mixed.test": addresses });
    const dial = loopbackDialer(r.port);
    const res = await client({ resolve, dial }).post("http://mixed.test/hook", {}, "{}");
    expect(res.statusCode).toBeUndefined();
    expect(res.error).toMatch(/^egress refused: mixed\.test resolves to a refused address/);
    expect(res.error).toMatch(reason);
    expect(dial.calls).toEqual([]);
    expect(r.requests).toEqual([]);
  });

  it("DNS rebinding: public at the check, private afterwards, never dials the private address", async () => {
    const r = await loopbackReceiver();
    const rebinding = () => {
      let calls = 0;
      return fakeResolver({ "rebind.test": () => (++calls === 1 ? ["93.184.216.34"] : ["10.0.0.7"]) });
    };

    // Checked up front (public), then resolved again by the connection (private): refused.
    const checked = loopbackDialer(r.port);
    const first = client({ resolve: rebinding(), dial: checked });
    expect(await first.checkUrl("http://rebind.test/hook")).toBeNull();
    expect((await first.post("http://rebind.test/hook", {}, "{}")).error).toMatch(/^egress refused: rebind\.test resolves to a refused address \(private/);
    expect(checked.calls).toEqual([]);

    // Public for the first connection (dialled as checked), private for the next: refused.
    const sent = loopbackDialer(r.port);
    const second = client({ resolve: rebinding(), dial: sent });
    expect(await second.post("http://rebind.test/a", {}, "{}")).toMatchObject({ statusCode: 200 });
    expect((await second.post("http://rebind.test/b", {}, "{}")).error).toMatch(/^egress refused: .*\(private/);
    expect(sent.calls.map((c) => c.host)).toEqual(["93.184.216.34"]);
    expect(r.requests).toEqual(["rebind.test /a"]);
  });

  it("tries the next checked address when one does not connect", async () => {
    const r = await loopbackReceiver();
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const resolve = fakeResolver({ "two.test": ["2606:4700::1", "93.184.216.34"] });
    const dial = loopbackDialer(r.port, (o) => (o.family === 6 ? closed : r.port));
    const res = await client({ resolve, dial }).post("http://two.test/hook", {}, "{}");
    expect(res).toMatchObject({ statusCode: 200 });
    expect(dial.calls.map((c) => c.host)).toEqual(["2606:4700::1", "93.184.216.34"]);

    const onlyClosed = loopbackDialer(closed);
    const failed = await client({ resolve, dial: onlyClosed }).post("http://two.test/hook", {}, "{}");
    expect(failed.error).toBe("connection refused");
    expect(onlyClosed.calls).toHaveLength(2);
  });

  it("happy eyeballs: an address that never answers does not use up the timeout, the next one is dialled meanwhile", async () => {
    const r = await loopbackReceiver();
    const resolve = fakeResolver({ "blackhole.test": ["2606:4700::1", "2606:4700::2", "93.184.216.34"] });
    // IPv6 swallows packets: a socket that is never connected (no packet leaves this machine).
    const silent: Socket[] = [];
    const calls: string[] = [];
    const dial: Dialer = (o) => {
      calls.push(o.host);
      if (o.family === 6) {
        const socket = new Socket();
        silent.push(socket);
        return socket;
      }
      return connect({ host: "127.0.0.1", port: r.port });
    };
    // A 2 s connect timeout: dialled one after another, the first address alone would use it up.
    const res = await client({ resolve, dial }).post("http://blackhole.test/hook", {}, "{}");
    expect(res).toMatchObject({ statusCode: 200 });
    // Families interleaved: the IPv4 address comes second, not after every IPv6 one.
    expect(calls).toEqual(["2606:4700::1", "93.184.216.34"]);
    expect(r.requests).toEqual(["blackhole.test /hook"]);
    // The losing attempt is closed.
    expect(silent.map((s) => s.destroyed)).toEqual([true]);
  });

  it("happy eyeballs: when every address stays silent, the connect timeout is reported and every attempt closed", async () => {
    const resolve = fakeResolver({ "silent.test": ["2606:4700::1", "93.184.216.34", "93.184.216.35"] });
    const silent: Socket[] = [];
    const dial: Dialer = () => {
      const socket = new Socket();
      silent.push(socket);
      return socket;
    };
    // Three addresses are dialled by 500 ms (250 ms apart); the timeout leaves a second of margin.
    const http = new HttpClient({ connectTimeoutMs: 1_500, requestTimeoutMs: 5_000, egress: { resolve, dial } });
    cleanups.push(() => http.close());
    const res = await http.post("http://silent.test/hook", {}, "{}");
    expect(res.statusCode).toBeUndefined();
    expect(res.error).toBe("connect timeout");
    expect(silent).toHaveLength(3);
    expect(silent.every((s) => s.destroyed)).toBe(true);
  });

  it("interleaves address families from the resolver's first, keeping each family's order", () => {
    const a = (address: string) => ({ address, family: (address.includes(":") ? 6 : 4) as 4 | 6 });
    const order = (list: string[]) => interleaveFamilies(list.map(a)).map((t) => t.address);
    expect(order(["::1", "::2", "::3", "1.0.0.1", "1.0.0.2"])).toEqual(["::1", "1.0.0.1", "::2", "1.0.0.2", "::3"]);
    expect(order(["1.0.0.1", "::1", "::2", "1.0.0.2"])).toEqual(["1.0.0.1", "::1", "1.0.0.2", "::2"]);
    expect(order(["1.0.0.1", "1.0.0.2"])).toEqual(["1.0.0.1", "1.0.0.2"]);
    expect(order(["::1"])).toEqual(["::1"]);
    expect(order([])).toEqual([]);
  });

  it("a dialer that throws fails that address only, and the post reports it without throwing", async () => {
    const r = await loopbackReceiver();
    const resolve = fakeResolver({ "two.test": ["2606:4700::1", "93.184.216.34"] });
    const calls: string[] = [];
    const dial: Dialer = (o) => {
      calls.push(o.host);
      if (o.family === 6) throw new Error("no IPv6 route");
      return connect({ host: "127.0.0.1", port: r.port });
    };
    expect(await client({ resolve, dial }).post("http://two.test/hook", {}, "{}")).toMatchObject({ statusCode: 200 });
    expect(calls).toEqual(["2606:4700::1", "93.184.216.34"]);
    const failing = await client({ resolve: fakeResolver({ "six.test": ["2606:4700::1"] }), dial }).post("http://six.test/hook", {}, "{}");
    expect(failing.error).toBe("request failed: no IPv6 route");
  });

  it("https: TLS runs over the dialled socket, with SNI and certificate checks for the URL's name", async () => {
    const servernames: Array<string | false> = [];
    const server = createTlsServer(selfSigned("secure.test"), (socket) => socket.end());
    server.on("tlsClientError", (_error, socket: TLSSocket) => servernames.push(socket.servername));
    server.on("secureConnection", (socket: TLSSocket) => servernames.push(socket.servername));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const dial = loopbackDialer((server.address() as AddressInfo).port);

    const res = await client({ resolve: fakeResolver({ "secure.test": ["93.184.216.34"] }), dial }).post("https://secure.test/hook", {}, "{}");
    // A self-signed certificate: verification ran (and refused), so a dialer cannot bypass it.
    expect(res.statusCode).toBeUndefined();
    expect(res.error).toMatch(/self[- ]signed certificate/);
    expect(dial.calls).toEqual([{ host: "93.184.216.34", port: 443, family: 4, hostname: "secure.test" }]);
    await waitFor(() => servernames.length > 0);
    expect(servernames).toEqual(["secure.test"]);
  });

  it("https: a trusted receiver answers over the dialled socket and keeps the connection; a name its certificate does not cover is refused", async () => {
    const credentials = selfSigned("secure.test");
    const seen: string[] = [];
    const server = createHttpsServer(credentials, (req, res) => {
      seen.push(`${req.method} ${req.headers.host} ${req.url} ${(req.socket as TLSSocket).servername}`);
      req.resume();
      req.on("end", () => res.writeHead(204).end());
    });
    const connections: number[] = [];
    server.on("secureConnection", () => connections.push(Date.now()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const dial = loopbackDialer((server.address() as AddressInfo).port);
    const http = client({ resolve: fakeResolver({ "secure.test": ["93.184.216.34"], "other.test": ["93.184.216.35"] }), dial }, [credentials.cert.toString()]);

    for (let i = 0; i < 4; i++) expect(await http.post("https://secure.test/hook", {}, "{}")).toMatchObject({ statusCode: 204 });
    expect(seen).toEqual(Array(4).fill("POST secure.test /hook secure.test"));
    // Connections are kept alive over TLS (fewer handshakes than requests), and every one was
    // dialled at the checked address.
    expect(connections.length).toBeLessThan(4);
    expect(dial.calls.map((c) => c.host)).toEqual(connections.map(() => "93.184.216.34"));

    // The same trusted certificate presented for another name: verification is against the URL's host.
    const wrong = await http.post("https://other.test/hook", {}, "{}");
    expect(wrong.statusCode).toBeUndefined();
    expect(wrong.error).toMatch(/altnames|does not match/i);
    expect(seen).toHaveLength(4);
  });
});
