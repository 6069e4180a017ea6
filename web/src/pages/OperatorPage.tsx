import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Loader,
  Modal,
  NumberInput,
  Progress,
  Stack,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconBuilding, IconPlus, IconUserShield } from '@tabler/icons-react';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { get, post, put, type Invite, type OperatorTenant } from '../api.ts';
import { attempt, CopyField, ErrorNotice, PageHeader } from '../components/common.tsx';
import { formatBytes, formatDate } from '../format.ts';
import { navigate, useLocation } from '../router.tsx';

const GB = 1024 ** 3;

export function OperatorPage() {
  const { search } = useLocation();
  const tab = new URLSearchParams(search).get('tab') ?? 'tenants';
  return (
    <>
      <PageHeader
        title="Operator console"
        description="Organisations hosted on this installation, and the people who run it."
      />
      <Tabs
        value={tab}
        onChange={(v) => navigate(`/operator?tab=${v ?? 'tenants'}`, { replace: true })}
        keepMounted={false}
      >
        <Tabs.List mb="lg">
          <Tabs.Tab value="tenants" leftSection={<IconBuilding size={16} />}>
            Organisations
          </Tabs.Tab>
          <Tabs.Tab value="admins" leftSection={<IconUserShield size={16} />}>
            Operator admins
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="tenants">
          <TenantsTab />
        </Tabs.Panel>
        <Tabs.Panel value="admins">
          <AdminsTab />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}

function TenantsTab() {
  const [tenants, setTenants] = useState<OperatorTenant[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [invite, setInvite] = useState<Invite | null>(null);
  const [quotaFor, setQuotaFor] = useState<OperatorTenant | null>(null);
  const [inviteFor, setInviteFor] = useState<OperatorTenant | null>(null);

  const load = useCallback(async () => {
    try {
      setTenants((await get<{ items: OperatorTenant[] }>('/operator/tenants')).items);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const setSuspended = async (t: OperatorTenant, suspend: boolean) => {
    if (
      await attempt(
        () => post(`/operator/tenants/${t.id}/${suspend ? 'suspend' : 'resume'}`),
        suspend ? `${t.name} is suspended: its members and tokens stop working.` : `${t.name} works again.`,
      )
    ) {
      await load();
    }
  };

  return (
    <Stack gap="lg">
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          {tenants ? `${tenants.length} ${tenants.length === 1 ? 'organisation' : 'organisations'}` : ''}
        </Text>
        <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
          New organisation
        </Button>
      </Group>
      {invite ? (
        <Alert
          color="teal"
          variant="light"
          title={`Invitation for ${invite.email}`}
          withCloseButton
          onClose={() => setInvite(null)}
        >
          <CopyField
            label="Invitation link"
            value={invite.link}
            description="Send this link to the owner. It works once."
          />
        </Alert>
      ) : null}
      <ErrorNotice error={error} />
      <Card withBorder radius="md" p={0}>
        {tenants === null ? (
          <Loader m="lg" aria-label="Loading organisations" />
        ) : tenants.length === 0 ? (
          <Text c="dimmed" p="lg">
            No organisations yet. Create the first one and invite its owner.
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={0}>
            <Table verticalSpacing="sm" aria-label="Organisations">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Organisation</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th className="hide-sm" w={220}>
                    Storage
                  </Table.Th>
                  <Table.Th className="hide-sm">Created</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {tenants.map((t) => {
                  const pct = t.quotaBytes > 0 ? (t.usedBytes / t.quotaBytes) * 100 : 0;
                  const suspended = t.status !== 'active';
                  return (
                    <Table.Tr key={t.id} data-testid="tenant-row" data-slug={t.slug}>
                      <Table.Td>
                        <Text size="sm" fw={500}>
                          {t.name}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {t.slug}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Badge color={suspended ? 'red' : 'teal'} variant="light">
                          {suspended ? 'Suspended' : 'Active'}
                        </Badge>
                      </Table.Td>
                      <Table.Td className="hide-sm">
                        <Text size="xs" mb={4}>
                          {formatBytes(t.usedBytes)} of{' '}
                          {t.quotaBytes > 0 ? formatBytes(t.quotaBytes) : 'no limit'}
                        </Text>
                        {t.quotaBytes > 0 ? (
                          <Progress value={pct} size="sm" aria-label={`Storage of ${t.name}`} />
                        ) : null}
                      </Table.Td>
                      <Table.Td className="hide-sm">
                        <Text size="sm" c="dimmed">
                          {formatDate(t.createdAt)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} justify="flex-end" wrap="nowrap">
                          <Button size="compact-xs" variant="subtle" onClick={() => setInviteFor(t)}>
                            Invite
                          </Button>
                          <Button size="compact-xs" variant="subtle" onClick={() => setQuotaFor(t)}>
                            Quota
                          </Button>
                          <Button
                            size="compact-xs"
                            variant="subtle"
                            color={suspended ? 'teal' : 'red'}
                            onClick={() => void setSuspended(t, !suspended)}
                          >
                            {suspended ? 'Resume' : 'Suspend'}
                          </Button>
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
      <CreateTenantDialog
        opened={creating}
        onClose={() => setCreating(false)}
        onCreated={(inv) => {
          setInvite(inv ?? null);
          void load();
        }}
      />
      <QuotaDialog tenant={quotaFor} onClose={() => setQuotaFor(null)} onSaved={() => void load()} />
      <InviteDialog tenant={inviteFor} onClose={() => setInviteFor(null)} onInvited={setInvite} />
    </Stack>
  );
}

function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
}

function CreateTenantDialog({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (invite: Invite | undefined) => void;
}) {
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugTouched, setSlugTouched] = useState(false);
  const [quota, setQuota] = useState<number | string>(100);
  const [owner, setOwner] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (opened) {
      setName('');
      setSlug('');
      setSlugTouched(false);
      setOwner('');
      setError(null);
    }
  }, [opened]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await post<{ ownerInvitation?: Invite }>('/operator/tenants', {
        name,
        slug,
        ...(typeof quota === 'number' ? { quotaBytes: Math.round(quota * GB) } : {}),
        ...(owner ? { ownerEmail: owner } : {}),
      });
      onCreated(result.ownerInvitation);
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={onClose} title="New organisation">
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => {
              const v = e.currentTarget.value;
              setName(v);
              if (!slugTouched) {
                setSlug(slugify(v));
              }
            }}
          />
          <TextInput
            label="Short name"
            description="Lower-case letters, digits and dashes; used in the API and the CLI."
            required
            value={slug}
            onChange={(e) => {
              setSlugTouched(true);
              setSlug(e.currentTarget.value);
            }}
          />
          <NumberInput
            label="Storage quota (GB)"
            description="Empty for no limit."
            min={0}
            value={quota}
            onChange={setQuota}
          />
          <TextInput
            label="Owner's e-mail"
            description="We create an invitation link for the owner to set up their account."
            type="email"
            value={owner}
            onChange={(e) => setOwner(e.currentTarget.value)}
          />
          <ErrorNotice error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              Create organisation
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function QuotaDialog({
  tenant,
  onClose,
  onSaved,
}: {
  tenant: OperatorTenant | null;
  onClose: () => void;
  onSaved: () => void;
}) {
  const [quota, setQuota] = useState<number | string>('');
  useEffect(() => {
    if (tenant) {
      setQuota(tenant.quotaBytes > 0 ? Math.round((tenant.quotaBytes / GB) * 100) / 100 : '');
    }
  }, [tenant]);
  const save = async () => {
    if (
      tenant &&
      (await attempt(
        () =>
          put(`/operator/tenants/${tenant.id}/quota`, {
            quotaBytes: typeof quota === 'number' ? Math.round(quota * GB) : 0,
          }),
        'Quota saved.',
      ))
    ) {
      onSaved();
      onClose();
    }
  };
  return (
    <Modal opened={tenant !== null} onClose={onClose} title={`Storage quota of ${tenant?.name ?? ''}`}>
      <Stack>
        <Text size="sm">Currently using {formatBytes(tenant?.usedBytes ?? 0)}.</Text>
        <NumberInput
          label="Quota (GB)"
          description="0 or empty: no limit."
          min={0}
          value={quota}
          onChange={setQuota}
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={() => void save()}>Save</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function InviteDialog({
  tenant,
  onClose,
  onInvited,
}: {
  tenant: OperatorTenant | null;
  onClose: () => void;
  onInvited: (invite: Invite) => void;
}) {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setEmail('');
    setError(null);
  }, [tenant]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      onInvited(await post<Invite>(`/operator/tenants/${tenant?.id}/invitations`, { email, role: 'owner' }));
      onClose();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Modal opened={tenant !== null} onClose={onClose} title={`Invite an owner to ${tenant?.name ?? ''}`}>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput
            label="Owner's e-mail"
            type="email"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
          />
          <ErrorNotice error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit">Create invitation</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function AdminsTab() {
  const [admins, setAdmins] = useState<
    { id: string; email: string; displayName: string; mfaEnabled: boolean; createdAt: number }[] | null
  >(null);
  const [email, setEmail] = useState('');
  const [invite, setInvite] = useState<Invite | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{
      items: { id: string; email: string; displayName: string; mfaEnabled: boolean; createdAt: number }[];
    }>('/operator/admins')
      .then((r) => setAdmins(r.items))
      .catch(setError);
  }, []);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      setInvite(await post<Invite>('/operator/admins/invitations', { email }));
      setEmail('');
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Stack gap="lg">
      <Card withBorder radius="md" p="lg">
        <Title order={2} fz={18} mb="sm">
          Invite an operator admin
        </Title>
        <form onSubmit={(e) => void submit(e)}>
          <Group align="flex-end" gap="sm" wrap="wrap">
            <TextInput
              label="E-mail"
              type="email"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              style={{ flex: '1 1 260px' }}
            />
            <Button type="submit">Create invitation</Button>
          </Group>
        </form>
        <Stack mt="md">
          <ErrorNotice error={error} />
          {invite ? (
            <CopyField
              label="Invitation link"
              value={invite.link}
              description={`Send this link to ${invite.email}.`}
            />
          ) : null}
        </Stack>
      </Card>
      <Card withBorder radius="md" p={0}>
        {admins === null ? (
          <Loader m="lg" aria-label="Loading" />
        ) : (
          <Table verticalSpacing="sm" aria-label="Operator admins">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Two-factor</Table.Th>
                <Table.Th className="hide-sm">Since</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {admins.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>
                    <Text size="sm">{a.displayName}</Text>
                    <Text size="xs" c="dimmed">
                      {a.email}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={a.mfaEnabled ? 'teal' : 'orange'}>
                      {a.mfaEnabled ? 'On' : 'Off'}
                    </Badge>
                  </Table.Td>
                  <Table.Td className="hide-sm">
                    <Text size="sm" c="dimmed">
                      {formatDate(a.createdAt)}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  );
}
