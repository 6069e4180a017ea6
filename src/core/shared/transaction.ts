/**
 * Core asks for atomicity through this port; the db adapter runs `work` in one database transaction,
 * handing it repositories bound to that transaction.
 */
export interface UnitOfWork<Repos> {
  withTransaction<T>(work: (repos: Repos) => Promise<T>): Promise<T>;
}
