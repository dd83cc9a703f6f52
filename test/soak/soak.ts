/**
 * `npm run soak`: Hookcast under crashes and faults, counting every delivery.
 *
 * On a fresh MariaDB database, with real processes: one API (`HOOKCAST_ROLE=api`), two workers
 * (`HOOKCAST_ROLE=worker`) that are SIGKILLed and restarted every few seconds, and a receiver
 * process whose three hooks fail at random (20 % 500, 5 % hang past the request timeout, 2 %
 * connection reset); the third hook answers 410 Gone from halfway through. Once, mid-run, every
 * database connection of the run is killed on the server (`KILL`). Then the chaos stops, the
 * queue drains, and the soak counts: events produced, deliveries expected, delivered, duplicates
 * (a webhook-id answered 2xx twice), lost (must be 0), dead, the 410 hook removed with nothing
 * sent to it afterwards, and the highest lag. Exits 1 when anything was lost or an invariant
 * broke, 2 when it could not run.
 *
 * Flags: `--short` (about a minute, for CI), `--changes=N`, `--max-minutes=M`, and
 * `--inject-loss` (deletes one delivery row before counting: proves the count can fail).
 * Bounded: at most `--max-minutes` (10 by default) from start to verdict.
 */
import "reflect-metadata";
import type { Connection } from "mysql2/promise";
import { CREATE_CONTACT, contactInput, createHook, freshDatabase, GqlClient, rootConnection } from "../bench/lib/hookcast.js";
import { startReceiverProcess } from "../bench/lib/ipc.js";
import { onCleanup, runMain, sleep, startHookcastProcess, wallNow, type HookcastProcess } from "../bench/lib/processes.js";
import { percentile } from "../bench/lib/stats.js";

const BOOTSTRAP_KEY = "hc_soak_bootstrap_key_0123456789";
const HOOK_TYPES = ["contact.created", "contact.updated", "contact.tag_added"];
const HOOK_PATHS = ["/h0", "/h1", "/gone"];
/** Faults of every hook's receiver path. */
const FAULTS = { p500: 0.2, pTimeout: 0.05, pReset: 0.02 };
/**
 * Requests reaching the 410 hook this long after its removal committed count as "sent after";
 * earlier ones were already on their way (dispatched before the removal, each bounded by the
 * 1 s request timeout). Two seconds leave room for a worker starved of CPU on a shared machine.
 */
const IN_FLIGHT_GRACE_MS = 2_000;

interface Options {
  changes: number;
  maxMs: number;
  killEveryMs: number;
  concurrency: number;
  short: boolean;
  injectLoss: boolean;
}

function parseOptions(argv: string[]): Options {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const short = argv.includes("--short");
  const changes = Number(get("changes") ?? (short ? 3_000 : 10_000));
  const minutes = Number(get("max-minutes") ?? (short ? 3 : 10));
  if (!Number.isInteger(changes) || changes < 10) throw new Error("--changes must be a whole number ≥ 10");
  return { changes, maxMs: minutes * 60_000, killEveryMs: short ? 2_500 : 4_000, concurrency: 8, short, injectLoss: argv.includes("--inject-loss") };
}

const log = (text: string) => process.stderr.write(`soak: ${text}\n`);

async function rows<T>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [result] = await conn.query(sql, params);
  return result as T[];
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = Date.now();
  const deadline = startedAt + options.maxMs;
  // The load stops early enough to leave the drain 30 % of the bound.
  const loadDeadline = startedAt + options.maxMs * 0.7;
  log(`${options.changes} contact changes × ${HOOK_PATHS.length} hooks, 2 workers killed every ${options.killEveryMs / 1000} s, bounded to ${options.maxMs / 60_000} min`);

  const db = await freshDatabase("mysql", "hc_soak");
  onCleanup(db.drop);
  const root = await rootConnection();
  onCleanup(() => root.end());
  const receiver = await startReceiverProcess();
  const env = {
    // Short, so that the failures retry and the run drains in time; 10 retries after the first
    // attempt leave a 27 % failure rate about 1 in 2 million chances of a dead delivery.
    HOOKCAST_RETRY_SCHEDULE: "100ms,200ms,300ms,500ms,1s,1s,2s,2s,3s,3s",
    HOOKCAST_REQUEST_TIMEOUT: "1s",
    HOOKCAST_CONNECT_TIMEOUT: "1s",
    // A killed worker's claims come back after this.
    HOOKCAST_LEASE: "3s",
    // info: the start line is how a process is known to be up.
    LOG_LEVEL: "info",
  };
  const start = (role: "api" | "worker", name: string) => startHookcastProcess({ databaseUrl: db.url, role, bootstrapKey: BOOTSTRAP_KEY, env, name });
  const api = await start("api", "api");
  // Errors the API logged (a failed change's reference leads to one), shown if any change fails.
  const apiErrors: string[] = [];
  api.onLine((line, json) => {
    if (typeof json?.level === "number" && json.level >= 50 && apiErrors.length < 3) apiErrors.push(line.slice(0, 2_000));
  });
  const gql = new GqlClient(api.url!, BOOTSTRAP_KEY, options.concurrency);
  onCleanup(() => gql.close());

  const secrets: Record<string, string> = {};
  const hookIds: string[] = [];
  for (const path of HOOK_PATHS) {
    const hook = await createHook(gql, `${receiver.url}${path}`, HOOK_TYPES);
    secrets[path] = hook.secret;
    hookIds.push(hook.id);
  }
  await receiver.setSecrets(secrets);
  await receiver.setFaults(Object.fromEntries(HOOK_PATHS.map((p) => [p, FAULTS])));

  const workers: Array<HookcastProcess | null> = [await start("worker", "worker-0"), await start("worker", "worker-1")];
  let unexpectedExits = 0;
  /** Processes the soak is ending itself (SIGKILL by the chaos, SIGTERM at the end). */
  const ending = new Set<HookcastProcess>();
  let stopping = false;
  const watch = (i: number, w: HookcastProcess) =>
    void w.exited.then(({ code, signal }) => {
      if (!stopping && !ending.has(w)) {
        unexpectedExits++;
        log(`worker-${i} exited by itself (${signal ?? `code ${code}`}):\n${w.output().slice(-1_500)}`);
      }
    });
  workers.forEach((w, i) => watch(i, w!));
  void api.exited.then(({ code, signal }) => {
    if (!stopping) {
      unexpectedExits++;
      log(`the API exited by itself (${signal ?? `code ${code}`}):\n${api.output().slice(-1_500)}`);
    }
  });

  // --- chaos: SIGKILL a worker every few seconds (alternating) and start it again ---------------
  let chaos = true;
  let kills = 0;
  const killer = (async () => {
    for (let n = 0; chaos; n++) {
      await sleep(options.killEveryMs);
      if (!chaos) break;
      const i = n % 2;
      const w = workers[i];
      workers[i] = null;
      if (w) ending.add(w);
      await w?.kill();
      kills++;
      const fresh = await start("worker", `worker-${i}`);
      watch(i, fresh);
      workers[i] = fresh;
    }
  })();

  // --- load: contact changes, each appending exactly one event -----------------------------------
  const contacts: string[] = [];
  let ok = 0;
  let failed = 0;
  let firstFailure = "";
  let next = 0;
  let goneAt = 0;
  let dbKilled = 0;
  let dbKilledAt = 0;
  const load = Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.changes && Date.now() < loadDeadline) {
        const i = next++;
        const kind = contacts.length < 20 ? 0 : i % 5;
        try {
          if (kind <= 1) {
            const data = await gql.ok<{ createContact: { id: string } }>(CREATE_CONTACT, { input: contactInput("soak", i) });
            contacts.push(data.createContact.id);
          } else if (kind <= 3) {
            const id = contacts[Math.floor(Math.random() * contacts.length)];
            await gql.ok(`mutation($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { id } }`, { id, input: { firstName: `Ada ${i}` } });
          } else {
            const id = contacts[Math.floor(Math.random() * contacts.length)];
            await gql.ok(`mutation($id: ID!, $tag: String!) { tagContact(contactId: $id, tag: $tag) { id } }`, { id, tag: `soak-${i}` });
          }
          ok++;
        } catch (error) {
          failed++;
          firstFailure ||= String(error).slice(0, 300);
        }
        const done = ok + failed;
        if (!dbKilledAt && done >= options.changes * 0.4) {
          dbKilledAt = Date.now();
          dbKilled = await killConnections(root, db.name);
          log(`killed ${dbKilled} database connections of the run (KILL on the server)`);
        }
        if (!goneAt && done >= options.changes / 2) {
          goneAt = wallNow();
          await receiver.setFaults({ "/gone": { gone: true } });
          log(`/gone answers 410 from now on`);
        }
      }
    }),
  );
  let lastProgress = 0;
  const progress = setInterval(() => {
    if (ok + failed - lastProgress > 0) log(`${ok + failed}/${options.changes} changes, ${kills} worker kills`);
    lastProgress = ok + failed;
  }, 5_000);
  await load;
  clearInterval(progress);
  const loadSeconds = (Date.now() - startedAt) / 1000;
  log(`load done: ${ok} changes ok, ${failed} failed${firstFailure ? ` (first: ${firstFailure})` : ""}; stopping the chaos`);
  // A failed change's reference leads to the API's error line: show the first few.
  if (failed > 0) for (const line of apiErrors) log(`API error: ${line}`);
  chaos = false;
  await killer;

  // --- drain -----------------------------------------------------------------------------------
  const drainStart = Date.now();
  let drained = false;
  while (Date.now() < deadline) {
    const [{ queued }] = await rows<{ queued: number }>(root, `SELECT COUNT(*) AS queued FROM \`${db.name}\`.deliveries WHERE queued = 1`);
    const [{ pending }] = await rows<{ pending: number }>(root, `SELECT COUNT(*) AS pending FROM \`${db.name}\`.events WHERE fanout_pending = 1`);
    if (Number(queued) === 0 && Number(pending) === 0) {
      drained = true;
      break;
    }
    await sleep(500);
  }
  log(`drain ${drained ? "finished" : "did NOT finish"} in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`);
  // Let the last answers' records land before reading the receiver.
  await sleep(200);
  stopping = true;
  await Promise.all(workers.map((w) => w?.stop()));
  await api.stop();

  // --- count -------------------------------------------------------------------------------------
  if (options.injectLoss) {
    await root.query(`DELETE FROM \`${db.name}\`.deliveries WHERE hook_id = ? LIMIT 1`, [hookIds[0]]);
    log("--inject-loss: deleted one delivery row of the first hook");
  }
  const report = await receiver.report();
  const events = await rows<{ id: string; type: string; occurred_at: Date }>(root, `SELECT id, type, occurred_at FROM \`${db.name}\`.events WHERE type IN (?)`, [HOOK_TYPES]);
  const deliveries = await rows<{ id: string; hook_id: string; event_id: string; status: string }>(
    root,
    `SELECT id, hook_id, event_id, status FROM \`${db.name}\`.deliveries`,
  );
  const [gone] = await rows<{ deleted_at: Date | null; deleted_reason: string | null }>(root, `SELECT deleted_at, deleted_reason FROM \`${db.name}\`.hooks WHERE id = ?`, [hookIds[2]]);

  const okAnswers = new Map<string, number>(); // webhook-id → 2xx answers
  const firstOkAt = new Map<string, number>();
  for (const r of report.records) {
    if (r.status < 200 || r.status >= 300) continue;
    okAnswers.set(r.webhookId, (okAnswers.get(r.webhookId) ?? 0) + 1);
    if (!firstOkAt.has(r.webhookId)) firstOkAt.set(r.webhookId, r.at);
  }
  const byPair = new Map(deliveries.map((d) => [`${d.hook_id} ${d.event_id}`, d]));
  const eventAt = new Map(events.map((e) => [e.id, new Date(e.occurred_at).getTime()]));
  let lost = 0;
  let missingRows = 0;
  let deliveredInDbNotReceived = 0;
  let dead = 0;
  const lags: number[] = [];
  const lostExamples: string[] = [];
  for (const hookId of hookIds.slice(0, 2)) {
    for (const e of events) {
      const d = byPair.get(`${hookId} ${e.id}`);
      if (!d) {
        missingRows++;
        lost++;
        if (lostExamples.length < 5) lostExamples.push(`no delivery row for ${hookId} × ${e.id}`);
        continue;
      }
      if (d.status === "DEAD") {
        dead++;
        continue;
      }
      const at = firstOkAt.get(d.id);
      if (at === undefined) {
        lost++;
        if (d.status === "DELIVERED") deliveredInDbNotReceived++;
        if (lostExamples.length < 5) lostExamples.push(`${d.id} (${d.status}) never answered 2xx`);
        continue;
      }
      lags.push(at - (eventAt.get(e.id) ?? at));
    }
  }
  const goneRows = deliveries.filter((d) => d.hook_id === hookIds[2]);
  // Answered 2xx at least once (a row can be both: answered, then cancelled by the removal
  // because the worker that sent it was killed before it recorded the answer).
  const goneDelivered = goneRows.filter((d) => okAnswers.has(d.id)).length;
  const goneCancelled = goneRows.filter((d) => d.status === "CANCELLED").length;
  const deletedAt = gone?.deleted_at ? new Date(gone.deleted_at).getTime() : NaN;
  const toGone = report.records.filter((r) => r.path === "/gone");
  const sentAfter = Number.isFinite(deletedAt) ? toGone.filter((r) => r.at > deletedAt + IN_FLIGHT_GRACE_MS).length : NaN;
  const inGrace = Number.isFinite(deletedAt) ? toGone.filter((r) => r.at > deletedAt && r.at <= deletedAt + IN_FLIGHT_GRACE_MS).length : NaN;
  const duplicates = [...okAnswers.values()].filter((n) => n > 1).length;
  const delivered = [...okAnswers.keys()].length;
  const expected = 2 * events.length + goneRows.length;
  const mismatched = report.records.filter((r) => {
    const d = deliveries.find((x) => x.id === r.webhookId);
    return r.status !== 400 && r.eventId !== "" && d !== undefined && d.event_id !== r.eventId;
  }).length;
  const byStatus = new Map<number, number>();
  for (const r of report.records) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);

  const removed = Number.isFinite(deletedAt);
  const problems: string[] = [];
  if (!drained) problems.push("the queue did not drain in time");
  if (lost > 0) problems.push(`${lost} deliveries lost`);
  if (!removed) problems.push("the 410 hook was not removed");
  if (removed && sentAfter > 0) problems.push(`${sentAfter} requests reached the 410 hook after its removal`);
  if (report.badSignatures > 0) problems.push(`${report.badSignatures} bad signatures`);
  if (mismatched > 0) problems.push(`${mismatched} bodies for the wrong event`);
  if (unexpectedExits > 0) problems.push(`${unexpectedExits} processes exited by themselves`);
  // Every change answered OK appended exactly one event (a change whose answer was lost to the
  // connection kill may have committed too: more events than OKs is fine, fewer is not).
  if (events.length < ok) problems.push(`${ok - events.length} changes answered OK without their event`);

  const line = (label: string, value: string | number) => process.stdout.write(`  ${label.padEnd(34)} ${value}\n`);
  process.stdout.write(`\nHookcast soak (${options.short ? "--short" : "full"}, ${((Date.now() - startedAt) / 1000).toFixed(0)} s)\n`);
  line("contact changes (ok / failed)", `${ok} / ${failed}`);
  line("events produced", events.length);
  line("deliveries expected", `${expected} (2 × ${events.length} + ${goneRows.length} to the 410 hook before its removal)`);
  line("delivered (distinct webhook-ids)", delivered);
  line("duplicates (2xx twice, same id)", duplicates);
  line("lost", `${lost}${missingRows ? ` (${missingRows} without a delivery row)` : ""}${deliveredInDbNotReceived ? ` (${deliveredInDbNotReceived} DELIVERED in the DB, never received)` : ""}`);
  line("dead", dead);
  line("requests by answer", [...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === 0 ? "hang/reset" : s}: ${n}`).join(", "));
  line("worker SIGKILLs", kills);
  line("DB connections killed", `${dbKilled} (at ${dbKilledAt ? ((dbKilledAt - startedAt) / 1000).toFixed(0) : "–"} s)`);
  line(
    "410 hook",
    removed
      ? `removed ${((deletedAt - goneAt) / 1000).toFixed(2)} s after it began answering 410 (${gone!.deleted_reason}); ${goneDelivered} answered 2xx before, ${goneCancelled} cancelled; ${inGrace} requests in flight at removal, ${sentAfter} sent after`
      : "NOT removed",
  );
  line("lag, event to first 2xx", `p50 ${percentile(lags, 50).toFixed(0)} ms, p99 ${percentile(lags, 99).toFixed(0)} ms, highest ${Math.max(0, ...lags).toFixed(0)} ms`);
  line("load phase", `${loadSeconds.toFixed(1)} s`);
  if (lostExamples.length) line("lost, for example", lostExamples.join("; "));
  process.stdout.write(problems.length ? `soak FAILED: ${problems.join("; ")}\n` : "soak passed: 0 lost\n");
  return problems.length ? 1 : 0;
}

/** Kills every connection whose default database is `database` (the run's API and workers). */
async function killConnections(root: Connection, database: string): Promise<number> {
  const ids = await rows<{ ID: number }>(root, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", [database]);
  let killed = 0;
  for (const { ID } of ids) {
    try {
      await root.query(`KILL ${Number(ID)}`);
      killed++;
    } catch {
      // already gone
    }
  }
  return killed;
}

runMain(async () => {
  try {
    return await main();
  } catch (error) {
    process.stderr.write(`soak: could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 2;
  }
});
