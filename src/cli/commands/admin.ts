import type { Command } from 'commander';
import type { MemberRole } from '../../core/shared/context.ts';
import { consoleOperator, print, withServices } from '../context.ts';

interface Common {
  dataDir?: string;
  json?: boolean;
}

/** Operator commands that act on this installation's data: tenants, users, tokens, keys, bootstrap. */
export function registerAdmin(program: Command): void {
  const tenant = program.command('tenant').description('Manage organisations');
  tenant
    .command('create')
    .description('Create an organisation and optionally invite its owner')
    .requiredOption('--name <name>')
    .requiredOption('--slug <slug>', 'short name: a-z, 0-9, hyphens')
    .option('--owner-email <email>', 'invite this person as owner')
    .option('--quota-bytes <n>', 'storage quota in bytes', Number)
    .option('--data-dir <dir>')
    .option('--json')
    .action(async (o: Common & { name: string; slug: string; ownerEmail?: string; quotaBytes?: number }) => {
      await withServices(o, async (s) => {
        const actor = await consoleOperator(s);
        const created = await s.tenants.createTenant(actor, {
          name: o.name,
          slug: o.slug,
          quotaBytes: o.quotaBytes,
        });
        const invite = o.ownerEmail
          ? await s.members.inviteMember(actor, { tenantId: created.id, email: o.ownerEmail, role: 'owner' })
          : undefined;
        const link = invite ? `${s.config.publicUrl}/invite#${invite.token}` : undefined;
        print(
          { tenant: created, ownerInvitationLink: link },
          Boolean(o.json),
          () =>
            `Created ${created.name} (${created.slug}, ${created.id})${link ? `\nOwner invitation: ${link}` : ''}`,
        );
      });
    });
  tenant
    .command('list')
    .description('List organisations with usage')
    .option('--data-dir <dir>')
    .option('--json')
    .action(async (o: Common) => {
      await withServices(o, async (s) => {
        const list = await s.tenants.listTenants(await consoleOperator(s));
        print(
          list,
          Boolean(o.json),
          () =>
            list
              .map(
                (t) =>
                  `${t.slug.padEnd(20)} ${t.status.padEnd(10)} ${formatBytes(t.usedBytes)} / ${formatBytes(t.quotaBytes)}  ${t.name}`,
              )
              .join('\n') || '(no organisations)',
        );
      });
    });
  for (const [verb, isSuspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const) {
    tenant
      .command(`${verb} <slug>`)
      .description(
        isSuspended ? 'Suspend an organisation (its members and tokens stop working)' : 'Lift a suspension',
      )
      .option('--data-dir <dir>')
      .action(async (slug: string, o: Common) => {
        await withServices(o, async (s) => {
          const found = await s.store.repos.tenants.findBySlug(slug);
          if (!found) {
            throw new Error(`No organisation with short name ${slug}`);
          }
          await s.tenants.setSuspended(await consoleOperator(s), found.id, isSuspended);
          process.stdout.write(`${slug} ${isSuspended ? 'suspended' : 'resumed'}\n`);
        });
      });
  }

  const user = program.command('user').description('Manage people');
  user
    .command('invite')
    .description('Invite someone into an organisation')
    .requiredOption('--tenant <slug>')
    .requiredOption('--email <email>')
    .option('--role <role>', 'owner, admin, compliance_officer, member or guest', 'member')
    .option('--data-dir <dir>')
    .action(async (o: Common & { tenant: string; email: string; role: MemberRole }) => {
      await withServices(o, async (s) => {
        const found = await s.store.repos.tenants.findBySlug(o.tenant);
        if (!found) {
          throw new Error(`No organisation with short name ${o.tenant}`);
        }
        const invite = await s.members.inviteMember(await consoleOperator(s), {
          tenantId: found.id,
          email: o.email,
          role: o.role,
        });
        process.stdout.write(
          `Invitation for ${invite.invitation.email} as ${o.role}: ${s.config.publicUrl}/invite#${invite.token}\n`,
        );
      });
    });
  user
    .command('reset-mfa <email>')
    .description("Turn off someone's two-factor sign-in (lost device); they enrol again at next sign-in")
    .option('--data-dir <dir>')
    .action(async (email: string, o: Common) => {
      await withServices(o, async (s) => {
        const found = await s.store.repos.users.findByEmail(email.trim().toLowerCase());
        if (!found) {
          throw new Error(`No user ${email}`);
        }
        await s.mfa.resetFromConsole(found.id);
        process.stdout.write(
          `Two-factor sign-in reset for ${found.email}; their sessions were signed out.\n`,
        );
      });
    });

  program
    .command('token')
    .description('Create an API token for a member (printed once)')
    .requiredOption('--tenant <slug>')
    .requiredOption('--email <email>')
    .option('--name <name>', 'what the token is for', 'cli')
    .option('--role <role>', 'role of the token (at most the member’s own)')
    .option('--expires-days <n>', 'expire after this many days', Number)
    .option('--data-dir <dir>')
    .option('--json')
    .action(
      async (
        o: Common & { tenant: string; email: string; name: string; role?: MemberRole; expiresDays?: number },
      ) => {
        await withServices(o, async (s) => {
          const found = await s.store.repos.tenants.findBySlug(o.tenant);
          const member = await s.store.repos.users.findByEmail(o.email.trim().toLowerCase());
          const membership =
            found && member ? await s.store.repos.memberships.find(found.id, member.id) : undefined;
          if (!found || !member || !membership) {
            throw new Error(`${o.email} is not a member of ${o.tenant}`);
          }
          const expiresAt = o.expiresDays ? s.clock.now() + o.expiresDays * 86_400_000 : null;
          const created = await s.members.createToken(
            { kind: 'member', tenantId: found.id, userId: member.id, role: membership.role, channel: 'cli' },
            { name: o.name, role: o.role, expiresAt },
          );
          print({ token: created.token, id: created.record.id }, Boolean(o.json), () => created.token);
        });
      },
    );

  program
    .command('bootstrap')
    .description(
      'For scripts and benchmarks: operator (if none), an organisation, its owner and an API token, in one go',
    )
    .requiredOption('--tenant <slug>')
    .requiredOption('--email <email>', 'owner e-mail (also the operator if there is none yet)')
    .requiredOption('--password <password>')
    .option('--data-dir <dir>')
    .option('--json')
    .action(async (o: Common & { tenant: string; email: string; password: string }) => {
      await withServices(o, async (s) => {
        const origin = { channel: 'cli' as const };
        if (await s.members.isSetupPending()) {
          await s.members.completeSetup({
            isLocalConsole: true,
            email: o.email,
            displayName: 'Operator',
            password: o.password,
            origin,
          });
        }
        const actor = await consoleOperator(s);
        const created = await s.tenants.createTenant(actor, { name: o.tenant, slug: o.tenant });
        const invite = await s.members.inviteMember(actor, {
          tenantId: created.id,
          email: o.email,
          role: 'owner',
        });
        const owner = await s.members.acceptInvitation({ token: invite.token, password: o.password, origin });
        const token = await s.members.createToken(
          { kind: 'member', tenantId: created.id, userId: owner.id, role: 'owner', channel: 'cli' },
          { name: 'bootstrap' },
        );
        const root = await s.store.repos.nodes.findRoot(created.id);
        print(
          { tenantId: created.id, rootFolderId: root?.id, token: token.token },
          Boolean(o.json),
          () => `tenant ${created.id}\nroot folder ${root?.id}\ntoken ${token.token}`,
        );
      });
    });
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
