import { buildApp } from './http/app.ts';
import { compose } from './compose.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { startHeapGovernor } from './core/shared/buffer-traffic.ts';
import { loggerOptions } from './http/logging.ts';
import { registerAlerts } from './jobs/handlers/alerts.job.ts';
import { registerAuditChain } from './jobs/handlers/audit-chain.job.ts';
import { registerHousekeeping } from './jobs/handlers/housekeeping.job.ts';
import { JobRunner } from './jobs/runner.ts';

/** `node src/main.ts serve`: load config, build everything, listen, print the setup link on first start. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`custodia: configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const services = await compose(config);
  const app = await buildApp(services, { logger: loggerOptions(config.logLevel) });
  if (config.runJobs) {
    // Whatever a process killed mid-upload left behind (its intents and temp files), on any dialect.
    const abandoned = await services.maintenance.sweepAbandonedWrites();
    if (abandoned.deleted + abandoned.partialWrites > 0) {
      app.log.info(abandoned, 'removed what an interrupted process left half-written');
    }
    const swept = await services.maintenance.sweepOrphanBlobs(
      services.database.dialect === 'sqlite' ? 0 : 3600_000,
    );
    if (swept.deleted > 0) {
      app.log.info({ deleted: swept.deleted }, 'removed blobs left by an interrupted upload');
    }
  }
  const runner = new JobRunner({
    db: services.database.db,
    dialect: services.database.dialect,
    clock: services.clock,
    log: (entry, message) => app.log.info(entry, message),
  });
  if (config.runJobs) {
    // Polled every 5 s so alerts fire within seconds; each job still runs at its own interval.
    runner.start(
      [
        ...registerHousekeeping(runner, services),
        ...registerAlerts(runner, services),
        ...registerAuditChain(runner, services),
      ],
      5_000,
    );
  }
  const shutdown = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await runner.stop();
    await app.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  await app.listen({ host: config.host, port: config.port });
  // Collects before V8 would once the heap has grown well past its live size (resident memory).
  startHeapGovernor();
  const setupToken = await services.members.issueSetupToken();
  if (setupToken) {
    // Printed to the terminal only (never logged): whoever can read it can create the operator admin.
    process.stdout.write(
      `\nCustodia is running. Finish setup by opening:\n\n  ${config.publicUrl}/setup#${setupToken}\n\nor run \`npm run custodia -- setup\` on this machine.\n\n`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(`custodia: failed to start: ${(error as Error).message}`);
  process.exit(1);
});
