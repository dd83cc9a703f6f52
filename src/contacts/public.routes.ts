import type { IncomingMessage, ServerResponse } from "node:http";
import type { Deps } from "../server/context.js";
import { BodyTooLarge, readBody, type Route } from "../server/http.js";
import { MemoryRateLimiter } from "../server/rate-limit.js";
import { AppError } from "../shared/errors.js";
import { findListByPublicToken, findUnsubscribeTarget, publicSubscribe, publicUnsubscribe, type UnsubscribeTarget } from "./public.service.js";

/** Largest public form body: 16 KB (an email and two names). */
const MAX_FORM_BYTES = 16_384;

/**
 * The public pages, for contacts themselves (no API key; events with source `public`):
 * - `GET /f/<listToken>`: a minimal HTML subscribe form; `POST /f/<listToken>` (HTML form post
 *   or JSON `{ email, firstName?, lastName? }`) subscribes.
 * - `GET /u/<unsubscribeToken>`: a confirmation page; `POST /u/<unsubscribeToken>` unsubscribes
 *   from every list, or from `list=<listId>` (body or query). RFC 8058 one-click posts work.
 * Answers are JSON when the request body is JSON or `Accept` prefers `application/json`, else
 * HTML. These routes use no cookies and no credentials, so a cross-site post can do nothing a
 * visitor could not do by hand (the forms are meant to be embedded on other sites); the GraphQL
 * endpoint keeps its own CSRF prevention. Everything echoed into HTML is escaped.
 */
export function publicRoutes(deps: Deps): Route[] {
  // No API key here: POSTs are limited per client address (HOOKCAST_PUBLIC_RATE_LIMIT).
  const limiter = deps.config.publicRateLimit ? new MemoryRateLimiter(deps.config.publicRateLimit, deps.clock) : null;
  return [
    async (req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const match = /^\/(f|u)\/([^/]*)$/.exec(url.pathname);
      if (!match) return false;
      const token = decodeSegment(match[2]);
      const json = wantsJson(req);
      try {
        if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
          res.setHeader("allow", "GET, POST");
          throw new HttpError(405, "BAD_REQUEST", "use GET or POST");
        }
        const wait = req.method === "POST" && limiter ? limiter.takeNow(req.socket.remoteAddress ?? "unknown") : 0;
        if (wait > 0) {
          res.setHeader("retry-after", String(wait));
          throw new HttpError(429, "RATE_LIMITED", `too many requests from this address: try again in ${wait} s`);
        }
        if (match[1] === "f") await subscribeRoute(deps, req, res, token, json);
        else await unsubscribeRoute(deps, req, res, url, token, json);
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          res.shouldKeepAlive = false;
          res.on("finish", () => req.destroy());
          sendError(res, json, 413, "BAD_REQUEST", `request body larger than ${MAX_FORM_BYTES} bytes`);
        } else if (error instanceof HttpError) {
          sendError(res, json, error.status, error.code, error.message);
        } else if (error instanceof AppError) {
          const status = error.code === "NOT_FOUND" ? 404 : 400;
          sendError(res, json, status, error.code, error.message, error.field);
        } else {
          throw error;
        }
      }
      return true;
    },
  ];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: "BAD_REQUEST" | "RATE_LIMITED",
    message: string,
  ) {
    super(message);
  }
}

async function subscribeRoute(deps: Deps, req: IncomingMessage, res: ServerResponse, token: string, json: boolean): Promise<void> {
  if (req.method !== "POST") {
    const list = await findListByPublicToken(deps.db, token);
    if (!list) throw new AppError("NOT_FOUND", "this form does not exist (or no longer exists)", { field: "token" });
    if (json) return sendJson(res, 200, { list: { name: list.name }, fields: ["email", "firstName", "lastName"] });
    return sendHtml(res, 200, formPage(list.name), { frameable: true });
  }
  const input = await readInput(req);
  try {
    const { list } = await publicSubscribe(deps, token, input);
    if (json) return sendJson(res, 200, { subscribed: true, list: { name: list.name } });
    return sendHtml(res, 200, page(`Subscribed to ${list.name}`, `<p>Thank you: <strong>${escapeHtml(String(input.email ?? "").trim())}</strong> is subscribed to ${escapeHtml(list.name)}.</p>`), { frameable: true });
  } catch (error) {
    // A bad address re-renders the form with the message and what was typed (escaped).
    if (!json && error instanceof AppError && error.code === "BAD_USER_INPUT") {
      const list = await findListByPublicToken(deps.db, token);
      if (list) return sendHtml(res, 400, formPage(list.name, error.message, input), { frameable: true });
    }
    throw error;
  }
}

async function unsubscribeRoute(deps: Deps, req: IncomingMessage, res: ServerResponse, url: URL, token: string, json: boolean): Promise<void> {
  if (req.method !== "POST") {
    const target = await findUnsubscribeTarget(deps.db, token);
    const listId = url.searchParams.get("list");
    if (json) return sendJson(res, 200, renderTarget(target));
    return sendHtml(res, 200, unsubscribePage(target, listId));
  }
  const input = await readInput(req);
  const rawList = typeof input.list === "string" && input.list !== "" ? input.list : url.searchParams.get("list");
  const { target, unsubscribed } = await publicUnsubscribe(deps, token, rawList || null);
  if (json) return sendJson(res, 200, { unsubscribed, ...renderTarget(target) });
  const names = target.lists.filter((l) => unsubscribed.includes(l.id)).map((l) => escapeHtml(l.name));
  const message = names.length
    ? `<p><strong>${escapeHtml(target.email)}</strong> is unsubscribed from ${names.join(", ")}.</p>`
    : `<p><strong>${escapeHtml(target.email)}</strong> was not subscribed${rawList ? " to this list" : " to any list"}: nothing to do.</p>`;
  return sendHtml(res, 200, page("Unsubscribed", message));
}

function renderTarget(target: UnsubscribeTarget) {
  return { email: target.email, lists: target.lists.map((l) => ({ id: l.id, name: l.name, status: l.subscribed ? "SUBSCRIBED" : "UNSUBSCRIBED" })) };
}

/** The body as a flat record of strings: a form post or a JSON object. */
async function readInput(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  const text = await readBody(req, MAX_FORM_BYTES);
  if (type.startsWith("application/json")) {
    let value: unknown;
    try {
      value = text.length ? JSON.parse(text) : {};
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "request body is not valid JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HttpError(400, "BAD_REQUEST", "request body must be a JSON object");
    return value as Record<string, unknown>;
  }
  if (type.startsWith("application/x-www-form-urlencoded") || (type === "" && text.length === 0)) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  throw new HttpError(415, "BAD_REQUEST", "send application/x-www-form-urlencoded or application/json");
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return "";
  }
}

/** JSON when the body is JSON or `Accept` ranks application/json before text/html. */
function wantsJson(req: IncomingMessage): boolean {
  if ((req.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) return true;
  const accept = (req.headers.accept ?? "").toLowerCase();
  const jsonAt = accept.indexOf("application/json");
  const htmlAt = accept.indexOf("text/html");
  return jsonAt >= 0 && (htmlAt < 0 || jsonAt < htmlAt);
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, json: boolean, status: number, code: string, message: string, field?: string): void {
  if (json) return sendJson(res, status, { errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });
  sendHtml(res, status, page(status === 404 ? "Not found" : "Something is wrong", `<p>${escapeHtml(message)}</p>`));
}

/**
 * HTML with a strict CSP (no scripts, forms post only here), no caching and no referrer (the
 * unsubscribe token is in the URL). Subscribe forms may be framed by other sites; unsubscribe
 * pages may not (clickjacking).
 */
function sendHtml(res: ServerResponse, status: number, html: string, options: { frameable?: boolean } = {}): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors ${options.frameable ? "*" : "'none'"}`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  });
  res.end(html);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a40000}</style>
</head><body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
}

function formPage(listName: string, error?: string, values: Record<string, unknown> = {}): string {
  const value = (name: string) => (typeof values[name] === "string" ? escapeHtml(values[name] as string) : "");
  return page(
    `Subscribe to ${listName}`,
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>\n` : ""}<form method="post">
<label>Email <input type="email" name="email" required maxlength="254" autocomplete="email" value="${value("email")}"></label>
<label>First name <input type="text" name="firstName" maxlength="255" autocomplete="given-name" value="${value("firstName")}"></label>
<label>Last name <input type="text" name="lastName" maxlength="255" autocomplete="family-name" value="${value("lastName")}"></label>
<button type="submit">Subscribe</button>
</form>`,
  );
}

function unsubscribePage(target: UnsubscribeTarget, listId: string | null): string {
  const subscribed = target.lists.filter((l) => l.subscribed);
  const one = listId ? subscribed.find((l) => l.id === listId) : undefined;
  if (one) {
    return page(
      "Unsubscribe",
      `<p>Unsubscribe <strong>${escapeHtml(target.email)}</strong> from ${escapeHtml(one.name)}?</p>
<form method="post"><input type="hidden" name="list" value="${escapeHtml(one.id)}"><button type="submit">Unsubscribe</button></form>`,
    );
  }
  if (subscribed.length === 0) return page("Unsubscribe", `<p><strong>${escapeHtml(target.email)}</strong> is not subscribed to any list.</p>`);
  return page(
    "Unsubscribe",
    `<p>Unsubscribe <strong>${escapeHtml(target.email)}</strong> from ${subscribed.map((l) => escapeHtml(l.name)).join(", ")}?</p>
<form method="post"><button type="submit">Unsubscribe from all lists</button></form>`,
  );
}
