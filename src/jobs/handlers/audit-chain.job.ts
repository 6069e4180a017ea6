import type { Services } from '../../compose.ts';
import type { JobRunner, RecurringJob } from '../runner.ts';

/**
 * The activity logs' upkeep: a signed checkpoint for every log with new entries every few minutes
 * (besides the one the writer asks for every N entries), and telemetry expiry once an hour.
 */
export function registerAuditChain(runner: JobRunner, services: Services): RecurringJob[] {
  runner.register('checkpoint-audit-logs', () => services.auditCheckpoints.checkpointAllDue());
  runner.register('expire-audit-telemetry', () => services.telemetry.expireAllDue());
  return [
    {
      name: 'checkpoint-audit-logs',
      payload: {},
      everyMs: services.config.auditCheckpointMinutes * 60_000,
    },
    { name: 'expire-audit-telemetry', payload: {}, everyMs: 3600_000 },
  ];
}
