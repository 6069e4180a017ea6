/**
 * The app processes sharing one database: every server node, plus short-lived CLI runs. Each holds a
 * lease that it renews while it runs. Whatever a process half-writes (a blob intent, a temp file) is
 * tagged with its id, so once the process is gone — its lease ran out, or it ran on this machine and
 * is no longer running — any other process may clean up after it without racing a live writer.
 */
export interface ProcessRegistry {
  /** The id of this process, recorded on everything it half-writes. */
  readonly selfId: string;
  /** Ids of the processes believed to be running now; always includes this one. */
  listLive(): Promise<ReadonlySet<string>>;
  /** Drops the lease records of processes that are no longer live; returns how many went. */
  forgetGone(): Promise<number>;
}
