import { isIP, type Socket } from "node:net";
import tls from "node:tls";
import { Agent, errors, request, type buildConnector } from "undici";
import { checkEgressUrl, checkedTargets, parseAddress, refusalOf, systemDialer, EgressRefusedError, EGRESS_REFUSED_PREFIX, type EgressPolicy, type ResolvedAddress } from "./egress.js";

/** The `user-agent` of every request Hookcast makes. */
export const USER_AGENT = "Hookcast/0.1.0 (+https://github.com/hookcast)";

/** Most bytes of a response body ever read; the rest is discarded unread. 64 KB. */
export const MAX_RESPONSE_READ = 65_536;

/** Most bytes of a response body kept on an attempt. 2 KB. */
export const RESPONSE_EXCERPT_BYTES = 2_048;

/** Result of one outbound POST. */
export interface PostResult {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  /** First {@link RESPONSE_EXCERPT_BYTES} of the body, as text. */
  excerpt: string | null;
  durationMs: number;
  /** Set when no response came: timeout, reset, refused, DNS failure. */
  error?: string;
}

/** Options of {@link createHttpClient}. */
export interface HttpClientOptions {
  /** TCP connect timeout, ms. Default 5 s. */
  connectTimeoutMs?: number;
  /** Whole-request timeout (connect, headers, body), ms. Default 15 s. */
  requestTimeoutMs?: number;
  /** Keep-alive connections per origin. Default 64. */
  connectionsPerOrigin?: number;
  /** The egress guard. Default: refuse loopback, private and every other non-public target. */
  egress?: EgressPolicy;
  /**
   * Certificate authorities (PEM) trusted for `https:` receivers besides Node's bundled roots
   * (which `NODE_EXTRA_CA_CERTS` also extends for the whole process). Default none.
   */
  extraCa?: ReadonlyArray<string | Buffer>;
}

/**
 * An outbound HTTP client for webhooks and handshakes: undici with keep-alive, a connect timeout
 * and a whole-request timeout; redirects are never followed (a 3xx is just a status); at most
 * 64 KB of a response is read, so a huge or endless body cannot exhaust memory.
 *
 * Every connection passes the egress guard (see `egress.ts`): a literal address is checked
 * before the request and again in the connector; a name is resolved by the connector, every
 * address checked, and the policy's dialer is handed only those addresses, never the name.
 */
export class HttpClient {
  private readonly agent: Agent;
  private readonly requestTimeoutMs: number;
  private readonly egress: EgressPolicy;

  constructor(options: HttpClientOptions = {}) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.egress = { allowPrivate: false, ...options.egress };
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: options.connectionsPerOrigin ?? 64,
      connect: guardedConnector(this.egress, options.connectTimeoutMs ?? 5_000, options.extraCa),
      headersTimeout: this.requestTimeoutMs,
      bodyTimeout: this.requestTimeoutMs,
    });
  }

  /**
   * The egress guard's verdict on `url` before it is stored: null when allowed, else the reason
   * (`"127.0.0.1 is loopback"`). Names are resolved; a name that does not resolve is not refused
   * here (the send-time check decides). Throws only on a URL that does not parse.
   */
  checkUrl(url: string): Promise<string | null> {
    return checkEgressUrl(url, this.egress);
  }

  /**
   * POSTs `body`; never throws: failures come back as `error`. `signal` aborts early (shutdown).
   * A target refused by the egress guard gives `error: "egress refused: <reason>"`, no connection.
   */
  async post(url: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<PostResult> {
    const started = performance.now();
    const literal = literalRefusal(url, this.egress);
    if (literal) return { headers: {}, excerpt: null, durationMs: 0, error: `${EGRESS_REFUSED_PREFIX} ${literal}` };
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...headers },
        body,
        dispatcher: this.agent,
        signal: combined,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of res.body) {
          const buf = chunk as Buffer;
          chunks.push(buf);
          size += buf.length;
          if (size >= MAX_RESPONSE_READ) break;
        }
      } catch {
        // A body cut short still leaves a valid status: the status decides the outcome.
      } finally {
        if (size >= MAX_RESPONSE_READ) res.body.destroy();
      }
      const text = Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString("utf8");
      return { statusCode: res.statusCode, headers: res.headers, excerpt: text.length ? text : null, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { headers: {}, excerpt: null, durationMs: Math.round(performance.now() - started), error: describeError(error, timeout.aborted) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Why a URL whose host is a literal address is refused; null for allowed addresses and names. */
function literalRefusal(url: string, policy: EgressPolicy): string | null {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return null; // undici reports the bad URL itself
  }
  const ip = parseAddress(hostname);
  return ip ? refusalOf(ip, policy.allowPrivate) : null;
}

/** How long a connection attempt runs alone before the next address is dialled too (RFC 8305 recommends 250 ms). */
export const ATTEMPT_DELAY_MS = 250;

/**
 * Addresses alternating by family, starting with the resolver's first (RFC 8305 section 4), each
 * family in resolver order: a broken IPv6 path costs one attempt delay, not every IPv6 address.
 */
export function interleaveFamilies(targets: readonly ResolvedAddress[]): ResolvedAddress[] {
  if (targets.length < 2) return [...targets];
  const first = targets[0].family;
  const same = targets.filter((t) => t.family === first);
  const other = targets.filter((t) => t.family !== first);
  const out: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]);
    if (i < other.length) out.push(other[i]);
  }
  return out;
}

/** TLS sessions kept for resumption, per server name (undici's own connector keeps 100 too). */
const MAX_TLS_SESSIONS = 100;

/**
 * undici's connector with the guard. It resolves the host itself ({@link checkedTargets}: a
 * literal address judged as is, a name resolved and EVERY address judged) and hands the policy's
 * dialer only those checked addresses, raced happy-eyeballs style ({@link ATTEMPT_DELAY_MS},
 * {@link interleaveFamilies}) until one connects. The
 * socket layer never sees the name, so nothing resolves it a second time: no window between
 * check and connect for DNS rebinding. For `https:` TLS runs over the dialled socket with SNI and
 * certificate verification against the URL's host name. `timeout` bounds resolution, every
 * dial and the TLS handshake together (`UND_ERR_CONNECT_TIMEOUT`).
 */
export function guardedConnector(policy: EgressPolicy, timeout: number, extraCa?: ReadonlyArray<string | Buffer>): buildConnector.connector {
  const dial = policy.dial ?? systemDialer;
  // `ca` replaces the default roots in tls.connect: extra authorities are added to them.
  const ca = extraCa?.length ? [...tls.rootCertificates, ...extraCa] : undefined;
  const sessions = new Map<string, Buffer>();
  return (options, callback) => {
    const { hostname, protocol } = options;
    const secure = protocol === "https:";
    const port = Number(options.port) || (secure ? 443 : 80);
    let done = false;
    /** Dialled sockets not connected yet. */
    const pending = new Set<Socket>();
    let delayTimer: NodeJS.Timeout | undefined;
    const closePending = () => {
      for (const socket of pending) socket.on("error", () => {}).destroy();
      pending.clear();
    };
    const finish = (error: Error | null, socket: Socket | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(delayTimer);
      if (error) {
        closePending();
        callback(error, null);
      } else {
        callback(null, socket!);
      }
    };
    const timer = setTimeout(() => finish(new errors.ConnectTimeoutError(`connect timeout (${hostname}:${port}, ${timeout} ms)`), null), timeout);

    const open = (target: ResolvedAddress): Socket => {
      const raw = dial({ host: target.address, port, family: target.family, hostname });
      raw.setKeepAlive(true, 60_000).setNoDelay(true);
      if (!secure) return raw;
      const servername = isIP(hostname) ? undefined : hostname;
      const sessionKey = servername ?? hostname;
      const secured = tls.connect({ socket: raw, host: hostname, servername, session: sessions.get(sessionKey), ALPNProtocols: ["http/1.1"], ...(ca ? { ca } : {}) });
      secured.on("session", (session: Buffer) => {
        sessions.delete(sessionKey);
        if (sessions.size >= MAX_TLS_SESSIONS) sessions.delete(sessions.keys().next().value!);
        sessions.set(sessionKey, session);
      });
      return secured;
    };

    // Happy eyeballs (RFC 8305): addresses interleaved by family; the next one is dialled when
    // the current one fails, or after ATTEMPT_DELAY_MS without an answer, so that an address
    // that swallows packets does not use up the whole timeout. The first to connect wins and the
    // others are closed; when all failed, the last error is the one reported.
    const race = (targets: ResolvedAddress[]): void => {
      const ordered = interleaveFamilies(targets);
      let index = 0;
      let lastError: Error = new Error(`no address to connect to for ${hostname}`);
      const startNext = (): void => {
        clearTimeout(delayTimer);
        if (done) return;
        if (index >= ordered.length) {
          if (pending.size === 0) finish(lastError, null);
          return;
        }
        let socket: Socket;
        try {
          socket = open(ordered[index++]);
        } catch (error) {
          lastError = error instanceof Error ? error : new Error(String(error));
          return startNext();
        }
        pending.add(socket);
        const onError = (error: Error) => {
          socket.on("error", () => {}); // a late second error must not become an uncaught one
          socket.destroy();
          pending.delete(socket);
          lastError = error;
          startNext();
        };
        socket.once("error", onError);
        socket.once(secure ? "secureConnect" : "connect", () => {
          socket.off("error", onError);
          pending.delete(socket);
          if (done) return void socket.destroy();
          closePending();
          finish(null, socket);
        });
        if (index < ordered.length) delayTimer = setTimeout(startNext, ATTEMPT_DELAY_MS);
      };
      startNext();
    };

    checkedTargets(hostname, policy).then(
      (targets) => {
        if (!done) race(targets);
      },
      (error: Error) => finish(error, null),
    );
  };
}

/** A short, log-safe description of a network failure. */
function describeError(error: unknown, timedOut: boolean): string {
  if (timedOut) return "timeout: no complete response in time";
  const e = error as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
  if (e instanceof EgressRefusedError) return e.message;
  if (e.cause instanceof EgressRefusedError) return e.cause.message;
  const code = e.cause?.code ?? e.code;
  if (e.name === "AbortError" || code === "UND_ERR_ABORTED") return "aborted";
  const messages: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    UND_ERR_SOCKET: "connection reset",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "DNS lookup failed",
    UND_ERR_CONNECT_TIMEOUT: "connect timeout",
    UND_ERR_HEADERS_TIMEOUT: "timeout: no response headers in time",
    UND_ERR_BODY_TIMEOUT: "timeout: response body stalled",
    ETIMEDOUT: "timeout",
    EHOSTUNREACH: "host unreachable",
  };
  return (code && messages[code]) ?? `request failed: ${(e.message ?? String(error)).slice(0, 200)}`;
}
