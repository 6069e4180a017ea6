import { compose, type Services } from '../compose.ts';
import { loadConfig } from '../config/load.ts';
import type { OperatorActor } from '../core/shared/context.ts';

/** Runs `work` with the full service graph of this installation (the CLI acts on the server's own data). */
export async function withServices<T>(
  options: { dataDir?: string },
  work: (services: Services) => Promise<T>,
): Promise<T> {
  const env = { ...process.env };
  if (options.dataDir) {
    env.CUSTODIA_DATA_DIR = options.dataDir;
  }
  const services = await compose(loadConfig(env));
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

/** The CLI acts as the first operator admin, on the console channel. */
export async function consoleOperator(services: Services): Promise<OperatorActor> {
  const [operator] = await services.store.repos.users.listOperators();
  if (!operator) {
    throw new Error('No operator admin yet: run `custodia setup` first.');
  }
  return { kind: 'operator', userId: operator.id, channel: 'cli' };
}

export function print(data: unknown, asJson: boolean, human: () => string): void {
  process.stdout.write(asJson ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}
