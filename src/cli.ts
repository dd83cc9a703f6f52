import "reflect-metadata";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, loadListenEnv } from "./config.js";
import { createAccount } from "./accounts/account.service.js";
import { openDb } from "./db/index.js";
import { listen } from "./realtime/listen.js";

const USAGE = `usage:
  npm run cli -- account create <name>     create an account; prints {"accountId","apiKey"} as one JSON line
  npm run cli -- listen --forward-to <url> [--events a,b] [--url http://host:port] [--api-key key] [--secret whsec_…] [--after cursor]
                                           stream the account's events over graphql-ws and POST each one, signed
                                           like a webhook, to <url> (defaults: HOOKCAST_URL or http://localhost:4000,
                                           HOOKCAST_API_KEY, a new secret printed at start, live from now)`;

/** \`listen\`: runs until SIGINT/SIGTERM (0) or until the server refuses the stream (1). */
async function listenCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "forward-to": { type: "string" },
      events: { type: "string" },
      url: { type: "string" },
      "api-key": { type: "string" },
      secret: { type: "string" },
      after: { type: "string" },
    },
    strict: true,
  });
  const env = loadListenEnv();
  const forwardTo = values["forward-to"];
  const apiKey = values["api-key"] ?? env.apiKey;
  if (!forwardTo || !/^https?:\/\//.test(forwardTo)) throw new Error("listen: --forward-to http(s)://… is required");
  if (!apiKey) throw new Error("listen: --api-key (or HOOKCAST_API_KEY) is required");
  const listener = listen({
    url: values.url ?? env.url,
    apiKey,
    forwardTo,
    events: values.events?.split(",").map((e) => e.trim()).filter(Boolean),
    secret: values.secret,
    after: values.after,
  });
  const stopped = new Promise<number>((resolve) => {
    const stop = () => void listener.stop().then(() => resolve(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return Promise.race([stopped, listener.done.then(() => 0)]);
}

/** `npm run cli -- …`: administrative commands against DATABASE_URL. */
async function cli(args: string[]): Promise<number> {
  const [group, command, ...rest] = args;
  if (group === "listen") return listenCommand(args.slice(1));
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
