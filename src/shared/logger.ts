import { pino, type Logger } from "pino";

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Secrets never reach it: the paths below are
 * redacted wherever they appear.
 */
export function createLogger(level: string = "info"): Logger {
  return pino({
    level,
    base: { service: "hookcast" },
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
  });
}

/** A logger that drops everything (tests that do not read logs). */
export const silentLogger: Logger = pino({ level: "silent" });
