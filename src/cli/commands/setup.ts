import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { withServices } from '../context.ts';

/** `custodia setup`: create the first operator admin, interactively or with every answer as a flag. */
export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description(
      'Create the first operator admin (asks on the terminal unless every answer is given as a flag)',
    )
    .option('--email <email>', 'operator e-mail address')
    .option('--name <name>', 'display name')
    .option(
      '--password <password>',
      'password (at least 12 characters); prefer the prompt or CUSTODIA_SETUP_PASSWORD',
    )
    .option('--data-dir <dir>', 'data directory (default: CUSTODIA_DATA_DIR or ./data)')
    .action(async (options: { email?: string; name?: string; password?: string; dataDir?: string }) => {
      const answers = await ask(options);
      await withServices({ dataDir: options.dataDir }, async (services) => {
        const user = await services.members.completeSetup({
          isLocalConsole: true,
          email: answers.email,
          displayName: answers.name,
          password: answers.password,
          origin: { channel: 'cli' },
        });
        process.stdout.write(
          `Operator admin ${user.email} created. Sign in at ${services.config.publicUrl}\n`,
        );
      });
    });
}

async function ask(options: {
  email?: string;
  name?: string;
  password?: string;
}): Promise<{ email: string; name: string; password: string }> {
  const password = options.password ?? process.env.CUSTODIA_SETUP_PASSWORD;
  if (options.email && password) {
    return { email: options.email, name: options.name ?? '', password };
  }
  if (!process.stdin.isTTY) {
    throw new Error(
      'setup needs --email and --password (or CUSTODIA_SETUP_PASSWORD) when not run on a terminal',
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const email = options.email ?? (await rl.question('Operator e-mail: '));
    const name = options.name ?? (await rl.question('Your name: '));
    const secret = password ?? (await rl.question('Password (12+ characters): '));
    return { email, name, password: secret };
  } finally {
    rl.close();
  }
}
