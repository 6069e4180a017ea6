import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Services } from '../../compose.ts';
import { OPERATOR_LOG_ID } from '../../core/audit/audit.types.ts';
import { ExportFormatError, verifyExport } from '../../core/audit/export-format.ts';
import { parsePublicKeyPem } from '../../core/audit/signing-key.ts';
import type { LogVerification } from '../../core/audit/verification.service.ts';
import type { VerificationResult } from '../../core/audit/chain.ts';
import type { Actor } from '../../core/shared/context.ts';
import { withServices } from '../context.ts';

interface VerifyOptions {
  tenant?: string;
  operator?: boolean;
  all?: boolean;
  file?: string;
  publicKey?: string[];
  dataDir?: string;
  json?: boolean;
}

/** Exit codes of `custodia audit …`: scripts tell a broken log from a mistyped command. */
const EXIT_VALID = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

/**
 * `custodia audit verify|export|public-key`: checks live logs, writes self-contained exports, and
 * verifies an export offline with a public key obtained separately (nothing else is needed: no
 * data directory, no database). Exit 0 valid, 1 invalid, 2 usage error.
 */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('Verify and export the tamper-evident activity logs');
  // Usage mistakes exit 2 (commander's own default is 1, which here means "the log is invalid").
  audit.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE));
  audit
    .command('verify')
    .description('Verify live logs (--tenant, --operator, --all) or an export file offline (--file)')
    .option('--tenant <slug>', "an organisation's log")
    .option('--operator', "the operator's own log")
    .option('--all', 'every log: the operator log and each organisation')
    .option('--file <export.jsonl>', 'verify an export offline')
    .option(
      '--public-key <key.pem>',
      'with --file: the public key you obtained separately (repeatable)',
      collect,
    )
    .option('--data-dir <dir>')
    .option('--json')
    .action((o: VerifyOptions) => run(() => (o.file ? verifyFile(o.file, o) : verifyLive(o))));
  audit
    .command('export')
    .description('Write a self-contained export of one log (JSON Lines) for offline verification')
    .option('--tenant <slug>', "an organisation's log")
    .option('--operator', "the operator's own log")
    .requiredOption('--out <file>', 'where to write the export')
    .option('--data-dir <dir>')
    .action((o: { tenant?: string; operator?: boolean; out: string; dataDir?: string }) =>
      run(() => exportLog(o)),
    );
  audit
    .command('public-key')
    .description('Print the public key(s) checkpoints are signed with (PEM), to keep apart from exports')
    .option('--data-dir <dir>')
    .option('--json')
    .action((o: { dataDir?: string; json?: boolean }) =>
      run(() =>
        withServices(o, async (s) => {
          const keys = await s.auditVerification.listPublicKeys();
          process.stdout.write(
            o.json
              ? `${JSON.stringify(keys, null, 2)}\n`
              : keys.map((k) => `# key id ${k.keyId}\n${k.publicKeyPem}`).join(''),
          );
          return EXIT_VALID;
        }),
      ),
    );
}

async function run(work: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await work();
  } catch (error) {
    if (error instanceof UsageError || error instanceof ExportFormatError) {
      process.stderr.write(`custodia: ${error.message}\n`);
      process.exit(error instanceof UsageError ? EXIT_USAGE : EXIT_INVALID);
    }
    throw error;
  }
}

async function verifyLive(o: VerifyOptions): Promise<number> {
  if (o.publicKey) {
    throw new UsageError('--public-key goes with --file (a live log is checked against the keys on record)');
  }
  const chosen = [o.tenant !== undefined, Boolean(o.operator), Boolean(o.all)].filter(Boolean).length;
  if (chosen !== 1) {
    throw new UsageError('say which log to verify: --tenant <slug>, --operator, --all, or --file <export>');
  }
  return withServices(o, async (s) => {
    const actor = await cliActor(s);
    const results: Array<LogVerification & { name: string }> = [];
    for (const { logId, name } of await chooseLogs(s, o)) {
      results.push({ ...(await s.auditVerification.verifyLog(logId, actor)), name });
    }
    if (o.json) {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    } else {
      process.stdout.write(results.map((r) => describe(r.name, r)).join('\n') + '\n');
    }
    return results.every((r) => r.isValid) ? EXIT_VALID : EXIT_INVALID;
  });
}

async function verifyFile(path: string, o: VerifyOptions): Promise<number> {
  if (o.tenant !== undefined || o.operator || o.all) {
    throw new UsageError('--file verifies the export alone; leave out --tenant, --operator and --all');
  }
  if (!existsSync(path)) {
    throw new UsageError(`no such file: ${path}`);
  }
  const keys = o.publicKey?.map((p) => {
    try {
      const pem = readFileSync(p, 'utf8');
      parsePublicKeyPem(pem);
      return pem;
    } catch (error) {
      throw new UsageError(`--public-key ${p}: ${(error as Error).message}`);
    }
  });
  const result = await verifyExport({
    readLines: () => createInterface({ input: createReadStream(path), crlfDelay: Infinity }),
    publicKeysPem: keys,
  });
  if (result.isKeyFromExport) {
    process.stderr.write(
      'custodia: warning: verified with the public key inside the export itself, which proves nothing on its own\n' +
        '  (whoever rewrote the log could have replaced the key too). Pass the key you obtained separately:\n' +
        '  --public-key key.pem (from `custodia audit public-key` or GET /api/v1/audit/public-key).\n',
    );
  }
  process.stdout.write(
    o.json ? `${JSON.stringify(result, null, 2)}\n` : `${describe(`export of ${result.logId}`, result)}\n`,
  );
  return result.isValid ? EXIT_VALID : EXIT_INVALID;
}

async function exportLog(o: {
  tenant?: string;
  operator?: boolean;
  out: string;
  dataDir?: string;
}): Promise<number> {
  if ((o.tenant === undefined) === !o.operator) {
    throw new UsageError('say which log to export: --tenant <slug> or --operator');
  }
  return withServices(o, async (s) => {
    const [log] = await chooseLogs(s, o);
    if (!log) {
      throw new UsageError('no such log');
    }
    const lines = await s.auditVerification.exportLog(log.logId, await cliActor(s));
    const out = createWriteStream(o.out, { mode: 0o600 });
    for await (const chunk of lines) {
      if (!out.write(chunk)) {
        await once(out, 'drain');
      }
    }
    out.end();
    await once(out, 'finish');
    process.stdout.write(`Exported the activity log of ${log.name} to ${o.out}\n`);
    return EXIT_VALID;
  });
}

async function chooseLogs(
  s: Services,
  o: { tenant?: string; operator?: boolean; all?: boolean },
): Promise<Array<{ logId: string; name: string }>> {
  const operator = { logId: OPERATOR_LOG_ID, name: 'operator log' };
  if (o.operator) {
    return [operator];
  }
  if (o.tenant !== undefined) {
    const tenant = await s.store.repos.tenants.findBySlug(o.tenant);
    if (!tenant) {
      throw new UsageError(`no organisation with slug ${o.tenant}`);
    }
    return [{ logId: tenant.id, name: `organisation ${tenant.slug}` }];
  }
  const tenants = await s.store.repos.tenants.listForAllTenants();
  return [operator, ...tenants.map((t) => ({ logId: t.id, name: `organisation ${t.slug}` }))];
}

async function cliActor(s: Services): Promise<Actor> {
  const [operator] = await s.store.repos.users.listOperators();
  return operator
    ? { kind: 'operator', userId: operator.id, channel: 'cli' }
    : { kind: 'system', channel: 'cli' };
}

function describe(name: string, r: VerificationResult): string {
  const cp = r.lastCheckpoint;
  const pinned = cp
    ? `signed checkpoint at seq ${cp.seq} (${new Date(cp.createdAt).toISOString()}, key ${cp.keyId})`
    : 'no signed checkpoint';
  if (r.isValid) {
    const unsealed = r.lastSeq - (cp?.seq ?? 0);
    return `${name}: valid, ${r.entries} entries, ${pinned}${unsealed > 0 ? `; ${unsealed} entries after it` : ''}`;
  }
  const p = r.firstProblem;
  return `${name}: INVALID at seq ${p?.seq}: ${p?.problem} (${p?.detail}); verified up to seq ${r.lastSeq}, ${pinned}`;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
