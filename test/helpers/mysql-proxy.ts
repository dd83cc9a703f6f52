import { createServer, connect, type Server, type Socket } from "node:net";

/** How {@link MysqlProxy.cutCommit} cuts the connection. */
export type CommitCut =
  /** COMMIT reaches the server, which commits; its answer is dropped and the connection closed. */
  | "after-commit"
  /** The connection is closed instead of forwarding COMMIT: the server rolls the transaction back. */
  | "before-commit";

/** A TCP proxy in front of the test MySQL server, on a loopback port, that can cut connections. */
export interface MysqlProxy {
  /** The database URL, through the proxy. */
  url: string;
  /**
   * Arms one cut: on the first connection that sends a statement containing `after`, its next
   * COMMIT is cut as `how` says. Resolves once the cut happened.
   */
  cutCommit(after: string, how: CommitCut): Promise<void>;
  /** While true, new connections are closed at once and every open one is closed now. */
  setDown(down: boolean): void;
  /** Goes down (see {@link setDown}) when a connection sends a statement containing `statement`, instead of forwarding it. */
  downAt(statement: string): void;
  close(): Promise<void>;
}

/** COM_QUERY (0x03) followed by COMMIT: how the MySQL text protocol sends TypeORM's commit. */
const COMMIT = Buffer.from("\x03COMMIT", "latin1");

/** Starts a proxy to the MySQL server of `databaseUrl` (which must be a loopback address). */
export async function startMysqlProxy(databaseUrl: string): Promise<MysqlProxy> {
  const target = new URL(databaseUrl);
  const upstreamPort = Number(target.port || 3306);
  const open = new Set<Socket>();
  let down = false;
  let armed: { after: Buffer; how: CommitCut; done: () => void; conn: Socket | null } | null = null;
  let downAt: Buffer | null = null;
  const setDown = (value: boolean) => {
    down = value;
    if (value) for (const s of [...open]) s.destroy();
  };

  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect({ host: target.hostname, port: upstreamPort });
    open.add(client).add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", closeBoth).on("close", closeBoth);
    upstream.on("error", closeBoth).on("close", closeBoth);
    let swallowAnswer: (() => void) | null = null;
    upstream.on("data", (d: Buffer) => {
      if (swallowAnswer) return swallowAnswer();
      client.write(d);
    });
    client.on("data", (d: Buffer) => {
      if (downAt && d.includes(downAt)) {
        downAt = null;
        return setDown(true);
      }
      const cut = armed;
      if (cut && !cut.conn && d.includes(cut.after)) cut.conn = client;
      if (cut && cut.conn === client && d.includes(COMMIT)) {
        armed = null;
        if (cut.how === "before-commit") {
          closeBoth();
          return cut.done();
        }
        // Forward COMMIT; when the server answers (committed), drop the answer and hang up.
        swallowAnswer = () => {
          closeBoth();
          cut.done();
        };
      }
      upstream.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const proxied = new URL(databaseUrl);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(port);

  return {
    url: proxied.toString(),
    cutCommit: (after, how) => new Promise<void>((done) => (armed = { after: Buffer.from(after, "utf8"), how, done, conn: null })),
    setDown,
    downAt: (statement) => void (downAt = Buffer.from(statement, "utf8")),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of [...open]) s.destroy();
        server.close(() => resolve());
      }),
  };
}
