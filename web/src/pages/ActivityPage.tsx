import {
  Anchor,
  Badge,
  Button,
  Card,
  CloseButton,
  Group,
  Loader,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { IconDownload, IconHistory, IconPrinter } from '@tabler/icons-react';
import { useEffect, useState, type FormEvent } from 'react';
import { get, type Member } from '../api.ts';
import { EmptyState, ErrorNotice, PageHeader } from '../components/common.tsx';
import { formatDateTime } from '../format.ts';
import { navigate, useLocation } from '../router.tsx';

/** One log entry as GET /api/v1/audit/events returns it. */
interface ActivityEntry {
  seq: number;
  occurredAt: number;
  action: string;
  outcome: string;
  actorType: string;
  actorId: string | null;
  actorName: string | null;
  actorEmail: string | null;
  fileId: string | null;
  fileName: string | null;
  channel: string;
  ip: string | null;
  details: Record<string, unknown> | null;
}

interface ActivityResult {
  entries: ActivityEntry[];
  nextCursor: string | null;
}

/** The filters as the page's address keeps them (dates as YYYY-MM-DD in the viewer's time zone). */
interface Filters {
  file: string;
  actor: string;
  ip: string;
  action: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { file: '', actor: '', ip: '', action: '', from: '', to: '' };
const PAGE_SIZE = 50;

const ACTION_LABEL: Record<string, string> = {
  'file.upload': 'Uploaded',
  'file.version_add': 'Uploaded a new version',
  'file.version_restore': 'Restored a version',
  'file.versions_pruned': 'Old versions removed',
  'file.download': 'Downloaded',
  'file.view': 'Previewed',
  'file.integrity_failure': 'Failed an integrity check',
  'node.rename': 'Renamed',
  'node.move': 'Moved',
  'node.copy': 'Copied',
  'node.trash': 'Moved to trash',
  'node.restore': 'Restored from trash',
  'node.purge': 'Deleted for good',
  'folder.create': 'Created a folder',
  'folder.grant': 'Gave a guest access',
  'folder.revoke': "Removed a guest's access",
  'share.create': 'Created a share link',
  'share.revoke': 'Revoked a share link',
  'share.download': 'Downloaded through a share link',
  'auth.sign_in': 'Signed in',
  'auth.sign_out': 'Signed out',
  'auth.second_factor': 'Second factor',
  'member.invite': 'Invited someone',
  'member.join': 'Joined',
  'member.role_change': 'Changed a role',
  'member.remove': 'Removed someone',
  'token.create': 'Created an API token',
  'token.revoke': 'Revoked an API token',
  'tenant.settings_update': 'Changed settings',
  'audit.export': 'Exported the activity log',
};

const ACTION_CHOICES = [
  {
    group: 'Kinds of action',
    items: [
      { value: 'file.', label: 'Anything done to file contents' },
      { value: 'node.', label: 'Renames, moves and deletions' },
      { value: 'share.', label: 'Share links' },
      { value: 'auth.', label: 'Sign-ins and sign-outs' },
      { value: 'member.', label: 'Member changes' },
    ],
  },
  {
    group: 'One action',
    items: Object.entries(ACTION_LABEL).map(([value, label]) => ({ value, label: `${label} (${value})` })),
  },
];

/**
 * The activity log of the organisation, for owners, admins and compliance officers: filters kept in
 * the address (so a filtered view can be bookmarked or sent), newest first, 50 a page, with the
 * same filters behind the CSV, JSON and printable-report links.
 */
export function ActivityPage() {
  const { search } = useLocation();
  const applied = readFilters(search);
  const [draft, setDraft] = useState<Filters>(applied);
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<ActivityResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [members, setMembers] = useState<Member[]>([]);
  const query = apiQuery(applied);
  const cursor = cursors.at(-1);

  useEffect(() => {
    setDraft(readFilters(search));
    setCursors([]);
  }, [search]);

  useEffect(() => {
    get<{ items: Member[] }>('/members')
      .then((r) => setMembers(r.items))
      .catch(() => setMembers([]));
  }, []);

  useEffect(() => {
    let isCurrent = true;
    setLoading(true);
    setError(null);
    const params = new URLSearchParams(query);
    params.set('limit', String(PAGE_SIZE));
    if (cursor) {
      params.set('cursor', cursor);
    }
    get<ActivityResult>(`/audit/events?${params.toString()}`)
      .then((result) => {
        if (isCurrent) {
          setPage(result);
        }
      })
      .catch((e: unknown) => {
        if (isCurrent) {
          setError(e);
          setPage(null);
        }
      })
      .finally(() => {
        if (isCurrent) {
          setLoading(false);
        }
      });
    return () => {
      isCurrent = false;
    };
  }, [query, cursor]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    navigate(`/activity${addressQuery(draft)}`);
  };
  const fileName = page?.entries.find((e) => e.fileId === applied.file)?.fileName;
  const exportQuery = query ? `?${query}` : '';

  return (
    <>
      <PageHeader
        title="Activity"
        description="Who did what with your organisation's files and settings, when and from where — newest first."
        actions={
          <>
            <Button
              component="a"
              href={`/api/v1/audit/events.csv${exportQuery}`}
              variant="default"
              leftSection={<IconDownload size={16} />}
            >
              CSV
            </Button>
            <Button
              component="a"
              href={`/api/v1/audit/events.json${exportQuery}`}
              variant="default"
              leftSection={<IconDownload size={16} />}
            >
              JSON
            </Button>
            <Button
              component="a"
              href={`/api/v1/audit/report.html${exportQuery}`}
              target="_blank"
              rel="noopener"
              leftSection={<IconPrinter size={16} />}
            >
              Printable report
            </Button>
          </>
        }
      />
      <Card withBorder radius="md" p="md" mb="md" component="form" onSubmit={apply} aria-label="Filters">
        {applied.file ? (
          <Group gap="xs" mb="sm">
            <Text size="sm">Showing everything done with</Text>
            <Badge
              size="lg"
              variant="light"
              tt="none"
              rightSection={
                <CloseButton
                  size="xs"
                  aria-label="Show all files"
                  onClick={() => navigate(`/activity${addressQuery({ ...applied, file: '' })}`)}
                />
              }
            >
              {fileName ?? 'this file'}
            </Badge>
            <Text size="xs" c="dimmed">
              across its versions, moves, renames and share links
            </Text>
          </Group>
        ) : null}
        <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="sm">
          <Select
            label="Person"
            placeholder="Anyone"
            clearable
            searchable
            data={members.map((m) => ({ value: m.userId, label: `${m.displayName} (${m.email})` }))}
            value={draft.actor || null}
            onChange={(v) => setDraft({ ...draft, actor: v ?? '' })}
          />
          <Select
            label="Action"
            placeholder="Any action"
            clearable
            searchable
            data={ACTION_CHOICES}
            value={draft.action || null}
            onChange={(v) => setDraft({ ...draft, action: v ?? '' })}
          />
          <TextInput
            label="IP address"
            placeholder="e.g. 203.0.113.7"
            value={draft.ip}
            onChange={(e) => setDraft({ ...draft, ip: e.currentTarget.value.trim() })}
          />
          <TextInput
            label="From"
            type="date"
            value={draft.from}
            onChange={(e) => setDraft({ ...draft, from: e.currentTarget.value })}
          />
          <TextInput
            label="To"
            type="date"
            value={draft.to}
            onChange={(e) => setDraft({ ...draft, to: e.currentTarget.value })}
          />
          {applied.file ? null : (
            <TextInput
              label="File id"
              placeholder="Or choose Activity in a file's menu"
              value={draft.file}
              onChange={(e) => setDraft({ ...draft, file: e.currentTarget.value.trim() })}
            />
          )}
        </SimpleGrid>
        <Group justify="flex-end" mt="md" gap="xs">
          <Button variant="subtle" color="gray" onClick={() => navigate('/activity')}>
            Clear filters
          </Button>
          <Button type="submit">Show activity</Button>
        </Group>
      </Card>
      <ErrorNotice error={error} title="The activity could not be shown" />
      <Card withBorder radius="md" p={0}>
        {loading && !page ? (
          <Group justify="center" py="xl">
            <Loader aria-label="Loading activity" />
          </Group>
        ) : null}
        {page && page.entries.length === 0 ? (
          <EmptyState icon={<IconHistory size={32} />} title="No activity matches these filters">
            Widen the period or clear a filter.
          </EmptyState>
        ) : null}
        {page && page.entries.length > 0 ? (
          <Table.ScrollContainer minWidth={720}>
            <Table verticalSpacing="xs" highlightOnHover aria-label="Activity" data-testid="activity-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>What</Table.Th>
                  <Table.Th>Who</Table.Th>
                  <Table.Th>File</Table.Th>
                  <Table.Th>From</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {page.entries.map((entry) => (
                  <Row key={entry.seq} entry={entry} />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : null}
        {page && (page.nextCursor || cursors.length > 0) ? (
          <Group justify="space-between" p="sm">
            <Button
              variant="default"
              disabled={cursors.length === 0 || loading}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              Newer
            </Button>
            <Text size="sm" c="dimmed">
              Page {cursors.length + 1}
            </Text>
            <Button
              variant="default"
              disabled={!page.nextCursor || loading}
              onClick={() => page.nextCursor && setCursors([...cursors, page.nextCursor])}
            >
              Older
            </Button>
          </Group>
        ) : null}
      </Card>
    </>
  );
}

function Row({ entry }: { entry: ActivityEntry }) {
  const summary = detailSummary(entry);
  return (
    <Table.Tr>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>
        <Text size="sm">{formatDateTime(entry.occurredAt)}</Text>
      </Table.Td>
      <Table.Td>
        <Group gap={6} wrap="nowrap">
          <Tooltip label={entry.action} openDelay={300}>
            <Text size="sm" fw={500}>
              {ACTION_LABEL[entry.action] ?? entry.action}
            </Text>
          </Tooltip>
          {entry.outcome !== 'success' ? (
            <Badge color={entry.outcome === 'denied' ? 'red' : 'orange'} variant="light" size="sm">
              {entry.outcome}
            </Badge>
          ) : null}
        </Group>
        {summary ? (
          <Text size="xs" c="dimmed">
            {summary}
          </Text>
        ) : null}
      </Table.Td>
      <Table.Td>
        <Text size="sm">{who(entry)}</Text>
        {entry.actorEmail ? (
          <Text size="xs" c="dimmed">
            {entry.actorEmail}
          </Text>
        ) : null}
      </Table.Td>
      <Table.Td>
        {entry.fileId ? (
          <Anchor
            size="sm"
            href={`/activity?file=${entry.fileId}`}
            onClick={(event) => {
              event.preventDefault();
              navigate(`/activity?file=${entry.fileId}`);
            }}
          >
            {entry.fileName ?? 'a deleted file'}
          </Anchor>
        ) : null}
      </Table.Td>
      <Table.Td>
        <Stack gap={0}>
          <Text size="sm" ff="monospace">
            {entry.ip ?? '—'}
          </Text>
          <Text size="xs" c="dimmed">
            {CHANNEL_LABEL[entry.channel] ?? entry.channel}
          </Text>
        </Stack>
      </Table.Td>
    </Table.Tr>
  );
}

const CHANNEL_LABEL: Record<string, string> = {
  web: 'web portal',
  api: 'API',
  webdav: 'WebDAV',
  share_link: 'share link',
  cli: 'command line',
  system: 'Custodia itself',
};

function who(entry: ActivityEntry): string {
  if (entry.actorName) {
    return entry.actorType === 'token' ? `${entry.actorName} (API token)` : entry.actorName;
  }
  if (entry.actorType === 'share_link' || entry.channel === 'share_link') {
    return 'Someone with the share link';
  }
  if (entry.actorType === 'system') {
    return 'Custodia';
  }
  if (entry.actorType === 'anonymous') {
    return 'Not signed in';
  }
  // A former member, or the provider's operator acting on the organisation.
  return entry.actorId ? `Not a current member (${entry.actorId.slice(0, 8)}…)` : '—';
}

function detailSummary(entry: ActivityEntry): string | null {
  const d = entry.details ?? {};
  const text = (key: string) => (typeof d[key] === 'string' ? (d[key] as string) : undefined);
  if (entry.action === 'node.rename' && text('fromName') && text('toName')) {
    return `${text('fromName')} → ${text('toName')}`;
  }
  if (entry.action === 'audit.export' && text('format')) {
    return `as ${text('format')?.toUpperCase()}`;
  }
  return null;
}

function readFilters(search: string): Filters {
  const params = new URLSearchParams(search);
  const read = (key: keyof Filters) => params.get(key) ?? EMPTY[key];
  return {
    file: read('file'),
    actor: read('actor'),
    ip: read('ip'),
    action: read('action'),
    from: read('from'),
    to: read('to'),
  };
}

/** The filters for the page's own address: dates stay as the viewer picked them. */
function addressQuery(filters: Filters): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (value) {
      params.set(key, value);
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The filters for the API: a picked day runs from local midnight to the last millisecond of it. */
function apiQuery(filters: Filters): string {
  const params = new URLSearchParams();
  for (const key of ['file', 'actor', 'ip', 'action'] as const) {
    if (filters[key]) {
      params.set(key, filters[key]);
    }
  }
  const day = (value: string, time: string) => new Date(`${value}T${time}`).getTime();
  if (filters.from && Number.isFinite(day(filters.from, '00:00:00'))) {
    params.set('from', String(day(filters.from, '00:00:00')));
  }
  if (filters.to && Number.isFinite(day(filters.to, '23:59:59.999'))) {
    params.set('to', String(day(filters.to, '23:59:59.999')));
  }
  return params.toString();
}
