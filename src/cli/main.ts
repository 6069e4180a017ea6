import { Command } from 'commander';
import { ConfigError } from '../config/load.ts';
import { DomainError } from '../core/shared/errors.ts';
import { registerAdmin } from './commands/admin.ts';
import { registerAudit } from './commands/audit.ts';
import { registerFiles } from './commands/files.ts';
import { registerKeys } from './commands/keys.ts';
import { registerSetup } from './commands/setup.ts';

/** The `custodia` command. Server-side commands act on the local data directory; `files` uses the API. */
const program = new Command('custodia')
  .description('Custodia: file storage with POPIA and GDPR duties built in')
  .showHelpAfterError();

program
  .command('serve')
  .description('Run the server (same as npm start)')
  .action(async () => {
    await import('../main.ts');
  });
registerSetup(program);
registerAdmin(program);
registerKeys(program);
registerAudit(program);
registerFiles(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const message =
    error instanceof DomainError || error instanceof ConfigError ? error.message : (error as Error).message;
  process.stderr.write(`custodia: ${message}\n`);
  process.exit(1);
});
