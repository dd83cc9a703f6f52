import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../shared/logger.js";
import type { Metrics } from "../shared/metrics.js";
import type { Readiness } from "./health.js";
import type { Route } from "./http.js";
import { observeRequest } from "./observe-request.js";

/** What the operations endpoints use. */
export interface OpsDeps {
  metrics: Metrics;
  readiness: () => Promise<Readiness>;
  logger: Logger;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

/**
 * `/metrics` (Prometheus text format) and `/readyz` (200 `{"status":"ready"}`, or 503
 * `{"status":"unavailable","reason":…}`), as a route for the HTTP server.
 */
export function opsRoute(deps: OpsDeps): Route {
  return async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      const { contentType, body } = await deps.metrics.render();
      send(res, 200, contentType, body);
      return true;
    }
    if (path === "/readyz") {
      const readiness = await deps.readiness();
      if (!readiness.ready) deps.logger.warn({ err: readiness.error, reason: readiness.reason, checks: readiness.checks }, "not ready");
      const body = readiness.ready ? { status: "ready", checks: readiness.checks } : { status: "unavailable", reason: readiness.reason, checks: readiness.checks };
      send(res, readiness.ready ? 200 : 503, "application/json; charset=utf-8", JSON.stringify(body));
      return true;
    }
    return false;
  };
}

/**
 * The operations server of a worker-only process (`HOOKCAST_OPS_PORT`): `/healthz`, `/readyz`
 * and `/metrics`, nothing else.
 */
export async function startOpsServer(deps: OpsDeps, options: { port: number; host: string }): Promise<{ url: string; server: Server; stop(): Promise<void> }> {
  const route = opsRoute(deps);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const { logger } = observeRequest(req, res, deps);
    void (async () => {
      try {
        if ((req.url ?? "/").split("?")[0] === "/healthz") return send(res, 200, "application/json; charset=utf-8", JSON.stringify({ status: "ok" }));
        if (await route(req, res)) return;
        send(res, 404, "application/json; charset=utf-8", JSON.stringify({ error: "not found" }));
      } catch (error) {
        logger.error({ err: error }, "ops handler failed");
        if (!res.headersSent) send(res, 500, "application/json; charset=utf-8", JSON.stringify({ error: "internal error" }));
        else res.destroy();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
