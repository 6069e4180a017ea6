import type { Services } from '../../compose.ts';
import type { JobRunner, RecurringJob } from '../runner.ts';

/** Alerting: read new activity and fire alerts every few seconds; send (and retry) deliveries. */
export function registerAlerts(runner: JobRunner, services: Services): RecurringJob[] {
  runner.register('evaluate-alerts', () => services.alertEvaluator.evaluateAll());
  runner.register('deliver-alerts', () => services.alertDelivery.deliverDue());
  return [
    { name: 'evaluate-alerts', payload: {}, everyMs: 5_000 },
    { name: 'deliver-alerts', payload: {}, everyMs: 5_000 },
  ];
}
