import type { Services } from '../../compose.ts';
import type { JobRunner, RecurringJob } from '../runner.ts';

/** Alerting: read new activity and fire alerts every few seconds; send (and retry) deliveries. */
export function registerAlerts(runner: JobRunner, services: Services): RecurringJob[] {
  runner.register('evaluate-alerts', () => services.alertEvaluator.evaluateAll());
  runner.register('deliver-alerts', () => services.alertDelivery.deliverDue());
  // Two jobs every 5 s leave ~35,000 finished rows a day; keep a day of them.
  runner.register('purge-finished-jobs', (payload) => runner.purgeFinished(payload.keepMs));
  return [
    { name: 'evaluate-alerts', payload: {}, everyMs: 5_000 },
    { name: 'deliver-alerts', payload: {}, everyMs: 5_000 },
    { name: 'purge-finished-jobs', payload: { keepMs: 24 * 3_600_000 }, everyMs: 3_600_000 },
  ];
}
