import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Loader,
  Modal,
  NumberInput,
  Progress,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconFolder, IconKey, IconSettings, IconUsers } from '@tabler/icons-react';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import {
  del,
  get,
  patch,
  post,
  ROLE_HELP,
  ROLE_LABEL,
  type ApiTokenRecord,
  type Invite,
  type Member,
  type NodeDetail,
  type Role,
  type TenantSettings,
} from '../api.ts';
import { attempt, CopyField, ErrorNotice, PageHeader } from '../components/common.tsx';
import { FolderPicker } from '../components/FolderPicker.tsx';
import { formatBytes, formatDate, formatDateTime, formatRelative } from '../format.ts';
import { forgetMembers } from '../members.ts';
import { navigate, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';

const ROLES: Role[] = ['owner', 'admin', 'compliance_officer', 'member', 'guest'];
const roleOptions = (includeOwner: boolean) =>
  ROLES.filter((r) => includeOwner || r !== 'owner').map((r) => ({ value: r, label: ROLE_LABEL[r] }));

export function AdminPage() {
  const { search } = useLocation();
  const tab = new URLSearchParams(search).get('tab') ?? 'members';
  return (
    <>
      <PageHeader
        title="Organisation"
        description="People, access, security policy, API tokens and storage."
      />
      <Tabs
        value={tab}
        onChange={(v) => navigate(`/organisation?tab=${v ?? 'members'}`, { replace: true })}
        keepMounted={false}
      >
        <Tabs.List mb="lg" style={{ flexWrap: 'wrap' }}>
          <Tabs.Tab value="members" leftSection={<IconUsers size={16} />}>
            Members
          </Tabs.Tab>
          <Tabs.Tab value="guests" leftSection={<IconFolder size={16} />}>
            Guest access
          </Tabs.Tab>
          <Tabs.Tab value="settings" leftSection={<IconSettings size={16} />}>
            Security and storage
          </Tabs.Tab>
          <Tabs.Tab value="tokens" leftSection={<IconKey size={16} />}>
            API tokens
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="members">
          <MembersTab />
        </Tabs.Panel>
        <Tabs.Panel value="guests">
          <GuestsTab />
        </Tabs.Panel>
        <Tabs.Panel value="settings">
          <SettingsTab />
        </Tabs.Panel>
        <Tabs.Panel value="tokens">
          <TokensTab />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}

function MembersTab() {
  const { me } = useSession();
  const [members, setMembers] = useState<Member[] | null>(null);
  const [pending, setPending] = useState<{ id: string; email: string; role: string; expiresAt: number }[]>(
    [],
  );
  const [error, setError] = useState<unknown>(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [invite, setInvite] = useState<Invite | null>(null);
  const [inviteError, setInviteError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const isOwner = me?.tenant?.role === 'owner';

  const load = useCallback(async () => {
    try {
      const [m, p] = await Promise.all([
        get<{ items: Member[] }>('/members'),
        get<{ items: { id: string; email: string; role: string; expiresAt: number }[] }>(
          '/members/invitations',
        ),
      ]);
      setMembers(m.items);
      setPending(p.items);
      forgetMembers();
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const sendInvite = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setInviteError(null);
    try {
      setInvite(await post<Invite>('/members/invitations', { email, role }));
      setEmail('');
      await load();
    } catch (e) {
      setInviteError(e);
    } finally {
      setBusy(false);
    }
  };

  const changeRole = async (m: Member, next: Role) => {
    if (
      await attempt(
        () => patch(`/members/${m.userId}`, { role: next }),
        `${m.displayName} is now ${ROLE_LABEL[next]}.`,
      )
    ) {
      await load();
    } else {
      await load();
    }
  };
  const resetMfa = async (m: Member) => {
    if (
      await attempt(
        () => post(`/members/${m.userId}/reset-mfa`),
        `Two-factor sign-in of ${m.displayName} was reset. They set it up again at their next sign-in.`,
      )
    ) {
      await load();
    }
  };
  const remove = async () => {
    const m = removing;
    setRemoving(null);
    if (m && (await attempt(() => del(`/members/${m.userId}`), `${m.displayName} no longer has access.`))) {
      await load();
    }
  };

  return (
    <Stack gap="lg">
      <Card withBorder radius="md" p="lg" component="section">
        <Title order={2} fz={18} mb={4}>
          Invite someone
        </Title>
        <Text size="sm" c="dimmed" mb="md">
          Custodia gives you a link to send them. It works once and expires after a week.
        </Text>
        <form onSubmit={(e) => void sendInvite(e)}>
          <Group align="flex-end" wrap="wrap" gap="sm">
            <TextInput
              label="E-mail"
              type="email"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              style={{ flex: '1 1 240px' }}
            />
            <Select
              label="Role"
              data={roleOptions(isOwner)}
              value={role}
              onChange={(v) => v && setRole(v as Role)}
              allowDeselect={false}
              style={{ flex: '0 1 220px' }}
            />
            <Button type="submit" loading={busy}>
              Create invitation
            </Button>
          </Group>
        </form>
        <Text size="xs" c="dimmed" mt={6}>
          {ROLE_LABEL[role]}: {ROLE_HELP[role].toLowerCase()}.
        </Text>
        <Stack mt="md" gap="sm">
          <ErrorNotice error={inviteError} />
          {invite ? (
            <Alert color="teal" variant="light" title={`Invitation for ${invite.email}`}>
              <CopyField
                label="Invitation link"
                value={invite.link}
                description={`Send this link to ${invite.email}. It expires ${formatDateTime(invite.expiresAt)}.`}
              />
            </Alert>
          ) : null}
        </Stack>
      </Card>

      <Card withBorder radius="md" p={0} component="section">
        <Title order={2} fz={18} p="lg" pb="xs">
          Members
        </Title>
        <ErrorNotice error={error} />
        {members === null ? (
          <Loader m="lg" aria-label="Loading members" />
        ) : (
          <Table.ScrollContainer minWidth={0}>
            <Table verticalSpacing="sm" aria-label="Members">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th w={220}>Role</Table.Th>
                  <Table.Th className="hide-sm" style={{ whiteSpace: 'nowrap' }}>
                    Two-factor
                  </Table.Th>
                  <Table.Th className="hide-sm">Joined</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {members.map((m) => {
                  const isMe = m.userId === me?.user.id;
                  return (
                    <Table.Tr key={m.userId} data-testid="member-row" data-email={m.email}>
                      <Table.Td style={{ maxWidth: 0, width: '100%' }}>
                        <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
                          {m.displayName}
                          {isMe ? ' (you)' : ''}
                        </Text>
                        <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                          {m.email}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Select
                          size="xs"
                          w={{ base: 124, sm: 190 }}
                          data={roleOptions(isOwner || m.role === 'owner')}
                          value={m.role}
                          allowDeselect={false}
                          disabled={isMe || (m.role === 'owner' && !isOwner)}
                          aria-label={`Role of ${m.displayName}`}
                          onChange={(v) => v && v !== m.role && void changeRole(m, v as Role)}
                        />
                      </Table.Td>
                      <Table.Td className="hide-sm">
                        {m.mfaEnabled ? (
                          <Badge color="teal" variant="light" size="sm">
                            On
                          </Badge>
                        ) : (
                          <Badge color="orange" variant="light" size="sm">
                            Off
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td className="hide-sm">
                        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                          {formatDate(m.joinedAt)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {!isMe ? (
                          <Group gap={4} wrap="nowrap" justify="flex-end">
                            {m.mfaEnabled ? (
                              <Button size="compact-xs" variant="subtle" onClick={() => void resetMfa(m)}>
                                Reset two-factor
                              </Button>
                            ) : null}
                            <Button
                              size="compact-xs"
                              variant="subtle"
                              color="red"
                              onClick={() => setRemoving(m)}
                            >
                              Remove
                            </Button>
                          </Group>
                        ) : null}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {pending.length > 0 ? (
          <Stack p="lg" pt="sm" gap={4}>
            <Text fw={600} size="sm">
              Invitations not yet accepted
            </Text>
            {pending.map((p) => (
              <Text key={p.id} size="sm" c="dimmed">
                {p.email} · {ROLE_LABEL[p.role as Role] ?? p.role} · link works until{' '}
                {formatDate(p.expiresAt)}
              </Text>
            ))}
          </Stack>
        ) : null}
      </Card>
      <Modal opened={removing !== null} onClose={() => setRemoving(null)} title="Remove member?">
        <Text size="sm">
          {removing?.displayName} will be signed out and lose access to this organisation. Their files stay.
        </Text>
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={() => setRemoving(null)}>
            Cancel
          </Button>
          <Button color="red" onClick={() => void remove()}>
            Remove
          </Button>
        </Group>
      </Modal>
    </Stack>
  );
}

function GuestsTab() {
  const [members, setMembers] = useState<Member[]>([]);
  const [folder, setFolder] = useState<NodeDetail | null>(null);
  const [picking, setPicking] = useState(false);
  const [grants, setGrants] = useState<{ userId: string; access: string; createdAt: number }[] | null>(null);
  const [guestId, setGuestId] = useState<string | null>(null);
  const [access, setAccess] = useState<'read' | 'write'>('read');
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    get<{ items: Member[] }>('/members')
      .then((r) => setMembers(r.items))
      .catch(setError);
  }, []);
  const loadGrants = useCallback(async (id: string) => {
    try {
      setGrants(
        (await get<{ items: { userId: string; access: string; createdAt: number }[] }>(`/nodes/${id}/grants`))
          .items,
      );
    } catch (e) {
      setError(e);
    }
  }, []);

  const guests = members.filter((m) => m.role === 'guest');
  const byId = new Map(members.map((m) => [m.userId, m]));

  const grant = async (event: FormEvent) => {
    event.preventDefault();
    if (!folder || !guestId) {
      return;
    }
    if (
      await attempt(
        () => post(`/nodes/${folder.node.id}/grants`, { userId: guestId, access }),
        'Access given.',
      )
    ) {
      setGuestId(null);
      await loadGrants(folder.node.id);
    }
  };
  const revoke = async (userId: string) => {
    if (
      folder &&
      (await attempt(() => del(`/nodes/${folder.node.id}/grants/${userId}`), 'Access removed.'))
    ) {
      await loadGrants(folder.node.id);
    }
  };

  return (
    <Stack gap="lg">
      <Text size="sm" c="dimmed" maw={720}>
        Guests (for example an auditor, a client or a contractor) see nothing of your organisation except the
        folders you give them here, and what is inside those folders. Invite them with the role Guest on the
        Members tab first.
      </Text>
      <ErrorNotice error={error} />
      <Card withBorder radius="md" p="lg">
        <Group justify="space-between" wrap="wrap" gap="sm">
          <div>
            <Text size="sm" c="dimmed">
              Folder
            </Text>
            <Text fw={600}>
              {folder
                ? [...folder.path.slice(1).map((p) => p.name), folder.node.name].join(' / ') || 'Files'
                : 'No folder chosen'}
            </Text>
          </div>
          <Button variant="default" onClick={() => setPicking(true)}>
            {folder ? 'Choose another folder' : 'Choose a folder'}
          </Button>
        </Group>
        {folder ? (
          <Stack mt="md">
            {grants === null ? (
              <Loader size="sm" aria-label="Loading access" />
            ) : grants.length === 0 ? (
              <Text size="sm" c="dimmed">
                No guest has access to this folder.
              </Text>
            ) : (
              <Table aria-label="Who has access">
                <Table.Tbody>
                  {grants.map((g) => (
                    <Table.Tr key={g.userId} data-testid="grant-row">
                      <Table.Td>
                        <Text size="sm">{byId.get(g.userId)?.displayName ?? 'Former member'}</Text>
                        <Text size="xs" c="dimmed">
                          {byId.get(g.userId)?.email}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={g.access === 'write' ? 'teal' : 'gray'}>
                          {g.access === 'write' ? 'Can edit' : 'Can view'}
                        </Badge>
                      </Table.Td>
                      <Table.Td ta="right">
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          color="red"
                          onClick={() => void revoke(g.userId)}
                        >
                          Remove access
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
            <form onSubmit={(e) => void grant(e)}>
              <Group align="flex-end" wrap="wrap" gap="sm">
                <Select
                  label="Guest"
                  placeholder={guests.length ? 'Choose a guest' : 'No guests yet: invite one as Guest'}
                  data={guests.map((g) => ({ value: g.userId, label: `${g.displayName} (${g.email})` }))}
                  value={guestId}
                  onChange={setGuestId}
                  disabled={guests.length === 0}
                  style={{ flex: '1 1 260px' }}
                />
                <Select
                  label="Access"
                  data={[
                    { value: 'read', label: 'Can view and download' },
                    { value: 'write', label: 'Can also upload and change' },
                  ]}
                  value={access}
                  allowDeselect={false}
                  onChange={(v) => v && setAccess(v as 'read' | 'write')}
                  style={{ flex: '0 1 240px' }}
                />
                <Button type="submit" disabled={!guestId}>
                  Give access
                </Button>
              </Group>
            </form>
          </Stack>
        ) : null}
      </Card>
      <FolderPicker
        opened={picking}
        title="Choose the folder to open to a guest"
        startId={folder?.node.id ?? null}
        confirmLabel="Choose"
        onClose={() => setPicking(false)}
        onPick={async (id) => {
          const d = await get<NodeDetail>(`/nodes/${id}`);
          setFolder(d);
          setGrants(null);
          await loadGrants(id);
        }}
      />
    </Stack>
  );
}

function SettingsTab() {
  const { refresh } = useSession();
  const [settings, setSettings] = useState<TenantSettings | null>(null);
  const [keep, setKeep] = useState<number | string>('');
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<TenantSettings>('/tenant')
      .then((s) => {
        setSettings(s);
        setKeep(s.keepVersions);
      })
      .catch(setError);
  }, []);
  if (!settings) {
    return error ? <ErrorNotice error={error} /> : <Loader aria-label="Loading settings" />;
  }
  const save = async (change: Partial<TenantSettings>, done: string) => {
    const before = settings;
    setSettings({ ...settings, ...change }); // show the choice at once; undone if the server refuses
    const ok = await attempt(async () => {
      setSettings(await patch<TenantSettings>('/tenant', change));
      await refresh();
    }, done);
    if (!ok) {
      setSettings(before);
    }
  };
  const pct = settings.quotaBytes > 0 ? (settings.usedBytes / settings.quotaBytes) * 100 : 0;
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
      <Card withBorder radius="md" p="lg">
        <Title order={2} fz={18} mb="sm">
          Two-factor sign-in
        </Title>
        <Switch
          checked={settings.requireMfa}
          onChange={(e) =>
            void save(
              { requireMfa: e.currentTarget.checked },
              e.currentTarget.checked
                ? 'Two-factor sign-in is now required.'
                : 'Two-factor sign-in is now optional.',
            )
          }
          label="Require two-factor sign-in for everyone"
          description="Members without it are asked to set it up the next time they sign in, before they can see any file. Their API tokens stop working until they have."
        />
      </Card>
      <Card withBorder radius="md" p="lg">
        <Title order={2} fz={18} mb="sm">
          Versions to keep
        </Title>
        <Group align="flex-end" gap="sm">
          <NumberInput
            label="Keep this many versions of each file"
            description="Older versions beyond this number are removed when a new one is saved."
            min={1}
            max={1000}
            allowDecimal={false}
            value={keep}
            onChange={setKeep}
            style={{ flex: 1 }}
          />
          <Button
            variant="default"
            disabled={keep === settings.keepVersions || typeof keep !== 'number'}
            onClick={() =>
              typeof keep === 'number' &&
              void save({ keepVersions: keep }, `Custodia now keeps ${keep} versions of each file.`)
            }
          >
            Save
          </Button>
        </Group>
      </Card>
      <Card withBorder radius="md" p="lg">
        <Title order={2} fz={18} mb="sm">
          Storage
        </Title>
        <Text size="sm" mb={6}>
          {formatBytes(settings.usedBytes)} used
          {settings.quotaBytes > 0 ? ` of ${formatBytes(settings.quotaBytes)}` : ' (no limit set)'}
        </Text>
        {settings.quotaBytes > 0 ? (
          <Progress
            value={pct}
            color={pct > 90 ? 'red' : pct > 75 ? 'orange' : 'custodia'}
            aria-label="Storage used"
          />
        ) : null}
        <Text size="xs" c="dimmed" mt="xs">
          Counts every version and items in the trash. Your provider sets the limit; ask them to raise it.
        </Text>
      </Card>
      <Card withBorder radius="md" p="lg">
        <Title order={2} fz={18} mb="sm">
          Organisation
        </Title>
        <Text size="sm">{settings.name}</Text>
        <Text size="xs" c="dimmed">
          Short name: {settings.slug}
        </Text>
      </Card>
    </SimpleGrid>
  );
}

function TokensTab() {
  const { me } = useSession();
  const [tokens, setTokens] = useState<ApiTokenRecord[] | null>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    try {
      setTokens((await get<{ items: ApiTokenRecord[] }>('/tokens')).items);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setCreated((await post<{ token: string }>('/tokens', { name, role })).token);
      setName('');
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (t: ApiTokenRecord) => {
    if (await attempt(() => del(`/tokens/${t.id}`), `The token “${t.name}” no longer works.`)) {
      await load();
    }
  };
  const active = (tokens ?? []).filter((t) => !t.revokedAt);
  return (
    <Stack gap="lg">
      <Card withBorder radius="md" p="lg">
        <Title order={2} fz={18} mb={4}>
          New API token
        </Title>
        <Text size="sm" c="dimmed" mb="md">
          For scripts, backups and integrations (rclone, curl). A token acts with the role you give it, never
          more than your own. See the API reference at{' '}
          <Anchor href="/api/docs" target="_blank" rel="noreferrer" fz="inherit">
            /api/docs
          </Anchor>
          .
        </Text>
        <form onSubmit={(e) => void create(e)}>
          <Group align="flex-end" wrap="wrap" gap="sm">
            <TextInput
              label="What is it for?"
              placeholder="Nightly backup"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              style={{ flex: '1 1 240px' }}
            />
            <Select
              label="Acts as"
              data={roleOptions(me?.tenant?.role === 'owner').filter((r) => r.value !== 'guest')}
              value={role}
              allowDeselect={false}
              onChange={(v) => v && setRole(v as Role)}
              style={{ flex: '0 1 220px' }}
            />
            <Button type="submit" loading={busy}>
              Create token
            </Button>
          </Group>
        </form>
        <Stack mt="md">
          <ErrorNotice error={error} />
          {created ? (
            <Alert color="orange" variant="light" title="Copy the token now: it is shown only once">
              <CopyField
                label="API token"
                value={created}
                description="Use it as: Authorization: Bearer <token>"
              />
            </Alert>
          ) : null}
        </Stack>
      </Card>
      <Card withBorder radius="md" p={0}>
        <Title order={2} fz={18} p="lg" pb="xs">
          Active tokens
        </Title>
        {tokens === null ? (
          <Loader m="lg" aria-label="Loading tokens" />
        ) : active.length === 0 ? (
          <Text size="sm" c="dimmed" p="lg" pt={0}>
            No active tokens.
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={0}>
            <Table verticalSpacing="sm" aria-label="API tokens">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Acts as</Table.Th>
                  <Table.Th className="hide-sm">Last used</Table.Th>
                  <Table.Th className="hide-sm">Created</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {active.map((t) => (
                  <Table.Tr key={t.id} data-testid="token-row">
                    <Table.Td>
                      <Text size="sm">{t.name}</Text>
                      <Text size="xs" c="dimmed" ff="monospace">
                        {t.prefix}…
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{ROLE_LABEL[t.role]}</Text>
                    </Table.Td>
                    <Table.Td className="hide-sm">
                      <Text size="sm" c="dimmed">
                        {t.lastUsedAt ? formatRelative(t.lastUsedAt) : 'Never'}
                      </Text>
                    </Table.Td>
                    <Table.Td className="hide-sm">
                      <Text size="sm" c="dimmed">
                        {formatDate(t.createdAt)}
                      </Text>
                    </Table.Td>
                    <Table.Td ta="right">
                      <Button size="compact-xs" variant="subtle" color="red" onClick={() => void revoke(t)}>
                        Revoke
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
    </Stack>
  );
}
