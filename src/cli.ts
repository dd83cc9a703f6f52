import "reflect-metadata";
import { ConfigError, loadConfig } from "./config.js";
import { createAccount, createApiKey } from "./accounts/account.service.js";
import { openDb } from "./db/index.js";

const USAGE = `usage:
  npm run cli -- account create <name>     create an account; prints {"accountId","apiKey"} as one JSON line
  npm run cli -- key create <accountId> [--admin]
                                           add an API key; --admin: its events have source "admin" (admin tools)
                                           prints {"accountId","apiKeyId","apiKey","source"} as one JSON line`;

/** `npm run cli -- …`: administrative commands against DATABASE_URL. */
async function cli(args: string[]): Promise<number> {
  const [group, command, ...rest] = args;
  if (group === "account" && command === "create" && rest.length >= 1) {
    const db = await openDb(loadConfig().databaseUrl);
    try {
      const created = await createAccount(db, rest.join(" "));
      process.stdout.write(`${JSON.stringify(created)}\n`);
      return 0;
    } finally {
      await db.close();
    }
  }
  if (group === "key" && command === "create" && rest.length >= 1 && rest.length <= 2 && (rest.length === 1 || rest[1] === "--admin")) {
    const db = await openDb(loadConfig().databaseUrl);
    try {
      const created = await createApiKey(db, rest[0], rest[1] === "--admin" ? "admin" : "api");
      process.stdout.write(`${JSON.stringify(created)}\n`);
      return 0;
    } finally {
      await db.close();
    }
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

cli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    const message = error instanceof ConfigError ? `bad configuration: ${error.message}` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`hookcast: ${message}\n`);
    process.exit(1);
  },
);
