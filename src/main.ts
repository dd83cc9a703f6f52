import "reflect-metadata";
import { ConfigError, loadConfig } from "./config.js";
import { startHookcast } from "./server/app.js";
import { createLogger } from "./shared/logger.js";

/** Entry point of `npm start` / `npm run worker`: reads config, starts, stops on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`hookcast: bad configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const app = await startHookcast(config, { logger });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    // Hard stop if draining hangs: the worker must be gone within 10 s of SIGTERM.
    setTimeout(() => process.exit(1), 9_500).unref();
    app.stop().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // Announced only once the signal handlers are in place: a supervisor that stops the process as
  // soon as it reads this line gets a clean shutdown, not the default kill.
  if (app.url) logger.info({ url: `${app.url}/graphql`, role: config.role }, `Hookcast GraphQL at ${app.url}/graphql`);
  else logger.info({ role: config.role }, "Hookcast worker started");
}

main().catch((error) => {
  process.stderr.write(`hookcast: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
