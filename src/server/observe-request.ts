import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../shared/logger.js";
import type { Metrics } from "../shared/metrics.js";
import type { RequestScope } from "../shared/request-scope.js";
import { REQUEST_ID_HEADER, requestIdOf } from "./request-id.js";

/** Fixed route labels, so that a scan of random paths cannot blow up the metric's cardinality. */
export function routeOf(pathname: string): string {
  if (pathname === "/graphql" || pathname === "/healthz" || pathname === "/readyz" || pathname === "/metrics") return pathname;
  if (pathname === "/dashboard" || pathname.startsWith("/dashboard/")) return "/dashboard";
  return "other";
}

// Probes and scrapes are frequent and dull: logged at debug, not info.
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Gives a request its id (echoed in `x-request-id`), and when the response is finished records
 * its duration in `hookcast_http_request_duration_seconds` and logs one line (method, route,
 * status, duration, request id, and the account once authenticated; never headers or bodies).
 * Returns the request's scope (to run the handler in: every log line written inside carries the
 * id) and the logger.
 */
export function observeRequest(req: IncomingMessage, res: ServerResponse, deps: { logger: Logger; metrics?: Metrics }): { scope: RequestScope; logger: Logger } {
  const startedAt = process.hrtime.bigint();
  const scope: RequestScope = { requestId: requestIdOf(req.headers) };
  res.setHeader(REQUEST_ID_HEADER, scope.requestId);
  const logger = deps.logger;
  const pathname = (req.url ?? "/").split("?")[0];
  const route = routeOf(pathname);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const status = res.headersSent ? res.statusCode : 0;
    const method = req.method ?? "GET";
    deps.metrics?.httpDuration.observe({ method, route, status: String(status) }, seconds);
    const line = { requestId: scope.requestId, accountId: scope.accountId, method, route, path: route === "other" ? undefined : pathname, status, durationMs: Math.round(seconds * 1000) };
    if (QUIET.has(route)) logger.debug(line, "request");
    else logger.info(line, "request");
  };
  res.once("finish", finish);
  res.once("close", finish);
  return { scope, logger };
}
