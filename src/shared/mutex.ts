/**
 * A FIFO async mutex. SQLite through TypeORM has one shared connection, so overlapping
 * transactions corrupt each other (STACK.md trap 1): every access is run through one of these.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier caller has finished; rejects with `fn`'s error. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
