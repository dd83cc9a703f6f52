import { isIP } from "node:net";
import { Agent, buildConnector, request } from "undici";
import { checkEgressUrl, egressLookup, parseAddress, refusalOf, EgressRefusedError, EGRESS_REFUSED_PREFIX, type EgressPolicy } from "./egress.js";

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
}

/**
 * An outbound HTTP client for webhooks and handshakes: undici with keep-alive, a connect timeout
 * and a whole-request timeout; redirects are never followed (a 3xx is just a status); at most
 * 64 KB of a response is read, so a huge or endless body cannot exhaust memory.
 *
 * Every connection passes the egress guard (see `egress.ts`): a literal address is checked
 * before the request and again in the connector; a name is resolved by the guard's own lookup,
 * every address checked, and the socket connects only to those addresses.
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
      connect: guardedConnector(this.egress, options.connectTimeoutMs ?? 5_000),
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

/**
 * undici's connector with the guard: literal addresses never reach `lookup` in `net.connect`,
 * so they are checked here (also covering any path that skipped the check in `post`); names go
 * through {@link egressLookup}, which undici's `buildConnector` passes on to net/tls.connect.
 */
export function guardedConnector(policy: EgressPolicy, timeout: number): buildConnector.connector {
  const connect = buildConnector({ timeout, lookup: egressLookup(policy) });
  return (options, callback) => {
    const ip = isIP(options.hostname) ? parseAddress(options.hostname) : null;
    const refused = ip && refusalOf(ip, policy.allowPrivate);
    if (refused) {
      callback(new EgressRefusedError(refused), null);
      return;
    }
    connect(options, callback);
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
