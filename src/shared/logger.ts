import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { requestScope } from "./request-scope.js";

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Secrets never reach it: the paths below are
 * redacted wherever they appear. Lines written while serving an HTTP request carry its `requestId`.
 * `destination` defaults to stdout (tests pass a stream to read the lines).
 */
export function createLogger(level: string = "info", destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: "hookcast" },
    mixin: () => {
      const scope = requestScope.getStore();
      return scope ? { requestId: scope.requestId } : {};
    },
    redact: {
      paths: [
        "apiKey",
        "secret",
        "*.apiKey",
        "*.secret",
        "headers.authorization",
        'headers["api-token"]',
        "req.headers.authorization",
        'req.headers["api-token"]',
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything (tests that do not read logs). */
export const silentLogger: Logger = pino({ level: "silent" });
