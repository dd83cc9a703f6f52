import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { requestScope } from "./request-scope.js";

export type { Logger };

/**
 * Paths removed from every log line (pino redaction; `*` is one level of any key). API keys,
 * signing secrets, credentials in headers, and the SQL parameters a failed query carries (a
 * failed INSERT of a hook would otherwise print its secret).
 */
export const REDACTED_PATHS = [
  "apiKey",
  "secret",
  "signingSecret",
  "previousSecret",
  "password",
  "*.apiKey",
  "*.secret",
  "*.signingSecret",
  "*.previousSecret",
  "*.password",
  "headers.authorization",
  'headers["api-token"]',
  'headers["x-hook-secret"]',
  'headers["webhook-signature"]',
  "headers.cookie",
  "req.headers.authorization",
  'req.headers["api-token"]',
  'req.headers["x-hook-secret"]',
  "req.headers.cookie",
  "err.parameters",
  "err.sql",
  "err.driverError.sql",
  "err.driverError.parameters",
];

/**
 * The process logger: JSON lines (on stdout, or on `destination`, e.g. a stream a test reads).
 * Secrets never reach it: the {@link REDACTED_PATHS} are replaced by `[redacted]` wherever they
 * appear. Lines written while serving an HTTP request carry its `requestId`; delivery lines carry
 * `deliveryId`, `hookId`, `eventId`.
 */
export function createLogger(level: string = "info", destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: "hookcast" },
    mixin: (line: object) => {
      const scope = requestScope.getStore();
      return scope && !("requestId" in line) ? { requestId: scope.requestId } : {};
    },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything (tests that do not read logs). */
export const silentLogger: Logger = pino({ level: "silent" });
