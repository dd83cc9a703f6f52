import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Route } from "./http.js";

/** The dashboard's files, served from disk: `public/dashboard/` of the package. */
function dashboardDir(): string {
  // src/server (tests), dist/src/server (the build) or another build folder inside the package:
  // the nearest ancestor holding public/dashboard.
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "public", "dashboard");
    if (existsSync(join(candidate, "index.html"))) return candidate;
    if (dirname(dir) === dir) throw new Error("public/dashboard/index.html not found above the server's files");
  }
}

/** The graphql-ws browser client (its UMD build, global `graphqlWs`), served as-is from node_modules. */
function graphqlWsBrowserBuild(): string {
  const main = createRequire(import.meta.url).resolve("graphql-ws");
  return resolve(dirname(main), "../umd/graphql-ws.min.js");
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * The Content-Security-Policy of every dashboard response: nothing inline, nothing from another
 * origin; scripts, styles and images from this server only; the page talks to `/graphql` over
 * HTTP and WebSocket on the same host (the ws: URL is spelled out for browsers whose `'self'`
 * does not cover WebSocket).
 */
export function dashboardCsp(host: string | undefined): string {
  const safeHost = host && /^[A-Za-z0-9.\-:[\]]{1,260}$/.test(host) ? host : null;
  const ws = safeHost ? ` ws://${safeHost} wss://${safeHost}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * `/dashboard`: the operations page (sign in with an API key, live event feed over graphql-ws,
 * hooks with health and actions, delivery inspector). Static files read from disk at start, no
 * CDN, under a strict CSP. The page holds no data: everything comes from `/graphql` with the key.
 */
export async function dashboardRoute(): Promise<Route> {
  const dir = dashboardDir();
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of ["index.html", "dashboard.js", "dashboard.css", "favicon.svg"]) {
    const ext = name.slice(name.lastIndexOf("."));
    files.set(`/dashboard/${name}`, { type: TYPES[ext], body: await readFile(join(dir, name)) });
  }
  files.set("/dashboard/graphql-ws.js", { type: TYPES[".js"], body: await readFile(graphqlWsBrowserBuild()) });
  files.set("/dashboard/", files.get("/dashboard/index.html")!);

  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/dashboard" && !path.startsWith("/dashboard/")) return false;
    if (path === "/dashboard") {
      res.writeHead(308, { location: "/dashboard/" });
      res.end();
      return true;
    }
    const file = files.get(path);
    const headers: Record<string, string> = {
      "content-security-policy": dashboardCsp(req.headers.host),
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
      "cross-origin-opener-policy": "same-origin",
      "cache-control": "no-cache",
    };
    if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(file ? 405 : 404, { ...headers, "content-type": "text/plain; charset=utf-8" });
      res.end(file ? "method not allowed" : "not found");
      return true;
    }
    res.writeHead(200, { ...headers, "content-type": file.type, "content-length": String(file.body.length) });
    res.end(req.method === "HEAD" ? undefined : file.body);
    return true;
  };
}
