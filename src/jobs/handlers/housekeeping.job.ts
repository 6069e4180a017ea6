import type { Services } from '../../compose.ts';
import type { JobRunner, RecurringJob } from '../runner.ts';

/** Housekeeping every installation runs: orphan blobs, abandoned uploads, expired sessions, old job rows. */
export function registerHousekeeping(runner: JobRunner, services: Services): RecurringJob[] {
  runner.register('sweep-orphan-blobs', (payload) => services.maintenance.sweepOrphanBlobs(payload.graceMs));
  runner.register('sweep-abandoned-writes', () => services.maintenance.sweepAbandonedWrites());
  runner.register('sweep-expired-uploads', () => services.maintenance.sweepExpiredUploads());
  runner.register('purge-expired-sessions', () => services.maintenance.purgeExpiredSessions());
  // Every recurring run leaves a finished row (the 5-second alert jobs ~35,000 a day); keep a day.
  runner.register('purge-finished-jobs', (payload) => runner.purgeFinished(payload.keepMs));
  return [
    { name: 'sweep-orphan-blobs', payload: { graceMs: 3600_000 }, everyMs: 3600_000 },
    // Another node's crash is noticed once its lease (60 s) runs out.
    { name: 'sweep-abandoned-writes', payload: {}, everyMs: 60_000 },
    { name: 'sweep-expired-uploads', payload: {}, everyMs: 15 * 60_000 },
    { name: 'purge-expired-sessions', payload: {}, everyMs: 3600_000 },
    { name: 'purge-finished-jobs', payload: { keepMs: 24 * 3600_000 }, everyMs: 3600_000 },
  ];
}
