import {
  Alert,
  Badge,
  Button,
  Center,
  Divider,
  Group,
  Image,
  Loader,
  Modal,
  NumberInput,
  PasswordInput,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { IconDownload, IconLink, IconRestore } from '@tabler/icons-react';
import { useEffect, useState, type FormEvent } from 'react';
import { del, get, post, type Member, type NodeItem, type ShareLink, type Version } from '../api.ts';
import { formatBytes, formatDateTime } from '../format.ts';
import { attempt, CopyField, ErrorNotice } from './common.tsx';

export function NameDialog({
  opened,
  title,
  label,
  initial,
  confirmLabel,
  onClose,
  onSubmit,
}: {
  opened: boolean;
  title: string;
  label: string;
  initial: string;
  confirmLabel: string;
  onClose: () => void;
  onSubmit: (name: string) => Promise<void>;
}) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (opened) {
      setName(initial);
      setError(null);
    }
  }, [opened, initial]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(name.trim());
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={onClose} title={title}>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput
            label={label}
            value={name}
            required
            data-autofocus
            onChange={(e) => setName(e.currentTarget.value)}
            onFocus={(e) => {
              const dot = e.currentTarget.value.lastIndexOf('.');
              e.currentTarget.setSelectionRange(0, dot > 0 ? dot : e.currentTarget.value.length);
            }}
          />
          <ErrorNotice error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              {confirmLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function VersionsDialog({
  node,
  canWrite,
  members,
  onClose,
  onRestored,
}: {
  node: NodeItem | null;
  canWrite: boolean;
  members: Map<string, Member>;
  onClose: () => void;
  onRestored: () => void;
}) {
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = async (id: string) => {
    setVersions(null);
    try {
      setVersions((await get<{ items: Version[] }>(`/nodes/${id}/versions`)).items);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setError(null);
    if (node) {
      void load(node.id);
    }
  }, [node]);
  const restore = async (v: Version) => {
    if (!node) {
      return;
    }
    if (
      await attempt(
        () => post(`/nodes/${node.id}/versions/${v.id}/restore`),
        `Version ${v.number} is current again.`,
      )
    ) {
      await load(node.id);
      onRestored();
    }
  };
  return (
    <Modal opened={node !== null} onClose={onClose} title={`Versions of “${node?.name ?? ''}”`} size="xl">
      <Stack>
        <Text size="sm" c="dimmed">
          Every upload keeps the earlier version. Restoring makes a copy of an old version the newest one;
          nothing is lost.
        </Text>
        <ErrorNotice error={error} />
        {versions === null && !error ? (
          <Center py="md">
            <Loader size="sm" aria-label="Loading versions" />
          </Center>
        ) : null}
        {versions ? (
          <Table.ScrollContainer minWidth={480}>
            <Table verticalSpacing="xs" aria-label="Versions">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Version</Table.Th>
                  <Table.Th>Saved</Table.Th>
                  <Table.Th>By</Table.Th>
                  <Table.Th>Size</Table.Th>
                  <Table.Th aria-label="Actions" />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {versions.map((v) => (
                  <Table.Tr key={v.id} data-testid={`version-${v.number}`}>
                    <Table.Td>
                      <Group gap={6}>
                        <Text size="sm">#{v.number}</Text>
                        {v.isCurrent ? (
                          <Badge size="sm" variant="light">
                            Current
                          </Badge>
                        ) : null}
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{formatDateTime(v.createdAt)}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{(v.createdBy && members.get(v.createdBy)?.displayName) ?? '—'}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{formatBytes(v.size)}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={6} justify="flex-end" wrap="nowrap">
                        <Button
                          component="a"
                          size="xs"
                          variant="default"
                          href={`/api/v1/nodes/${node?.id}/content?version=${v.id}&download=true`}
                          download
                          leftSection={<IconDownload size={14} />}
                        >
                          Download
                        </Button>
                        {canWrite && !v.isCurrent ? (
                          <Button
                            size="xs"
                            variant="light"
                            leftSection={<IconRestore size={14} />}
                            onClick={() => void restore(v)}
                          >
                            Restore
                          </Button>
                        ) : null}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : null}
      </Stack>
    </Modal>
  );
}

export function ShareDialog({ node, onClose }: { node: NodeItem | null; onClose: () => void }) {
  const [links, setLinks] = useState<ShareLink[] | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [expiry, setExpiry] = useState('');
  const [password, setPassword] = useState('');
  const [limit, setLimit] = useState<number | string>('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const load = async (id: string) => {
    try {
      setLinks((await get<{ items: ShareLink[] }>(`/nodes/${id}/shares`)).items);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setCreated(null);
    setError(null);
    setExpiry('');
    setPassword('');
    setLimit('');
    setLinks(null);
    if (node) {
      void load(node.id);
    }
  }, [node]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (!node) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const expiresAt = expiry ? new Date(`${expiry}T23:59:59`).getTime() : null;
      const result = await post<{ url: string }>(`/nodes/${node.id}/shares`, {
        expiresAt,
        password: password || null,
        maxDownloads: typeof limit === 'number' ? limit : null,
      });
      setCreated(result.url);
      setPassword('');
      await load(node.id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (link: ShareLink) => {
    if (node && (await attempt(() => del(`/shares/${link.id}`), 'The link no longer works.'))) {
      await load(node.id);
    }
  };

  const active = (links ?? []).filter((l) => !l.revokedAt);
  const today = new Date().toISOString().slice(0, 10);

  return (
    <Modal opened={node !== null} onClose={onClose} title={`Share “${node?.name ?? ''}”`} size="lg">
      <Stack>
        {created ? (
          <Alert color="teal" variant="light" title="Link created">
            <Stack gap="xs">
              <CopyField
                label="Share link"
                value={created}
                description="Anyone with this link can open it."
              />
              <Text size="xs">
                Send the password through a different channel than the link (for example by phone or SMS).
              </Text>
            </Stack>
          </Alert>
        ) : null}
        <form onSubmit={(e) => void create(e)}>
          <Stack gap="sm">
            <Text fw={600} size="sm">
              New link
            </Text>
            <Group grow align="flex-start" wrap="wrap">
              <TextInput
                type="date"
                label="Expires after"
                description="Leave empty for no end date"
                min={today}
                value={expiry}
                onChange={(e) => setExpiry(e.currentTarget.value)}
                style={{ minWidth: 180 }}
              />
              <NumberInput
                label="Download limit"
                description="Leave empty for no limit"
                min={1}
                max={1000000}
                allowDecimal={false}
                value={limit}
                onChange={setLimit}
                style={{ minWidth: 180 }}
              />
            </Group>
            <PasswordInput
              label="Password (recommended for personal data)"
              description="The recipient must type it before downloading."
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <ErrorNotice error={error} />
            <Group justify="flex-end">
              <Button type="submit" loading={busy} leftSection={<IconLink size={16} />}>
                Create link
              </Button>
            </Group>
          </Stack>
        </form>
        <Divider />
        <Text fw={600} size="sm">
          Links to this file
        </Text>
        {links === null ? (
          <Loader size="sm" aria-label="Loading links" />
        ) : active.length === 0 ? (
          <Text size="sm" c="dimmed">
            No active links. Only people in your organisation can open this file.
          </Text>
        ) : (
          <Stack gap="xs">
            {active.map((l) => (
              <Group key={l.id} justify="space-between" wrap="nowrap" gap="sm" data-testid="share-link-row">
                <Stack gap={0} style={{ minWidth: 0 }}>
                  <Text size="sm" ff="monospace">
                    …/s/{l.tokenPrefix}…
                  </Text>
                  <Text size="xs" c="dimmed">
                    {[
                      l.hasPassword ? 'Password' : 'No password',
                      l.expiresAt ? `until ${formatDateTime(l.expiresAt)}` : 'no end date',
                      l.maxDownloads !== null
                        ? `${l.downloadCount} of ${l.maxDownloads} downloads`
                        : `${l.downloadCount} downloads`,
                    ].join(' · ')}
                  </Text>
                </Stack>
                <Button size="xs" color="red" variant="light" onClick={() => void revoke(l)}>
                  Revoke
                </Button>
              </Group>
            ))}
          </Stack>
        )}
      </Stack>
    </Modal>
  );
}

export type PreviewKind = 'image' | 'pdf' | 'text' | null;

export function previewKind(node: NodeItem): PreviewKind {
  const type = node.mimeType ?? '';
  const ext = node.name.toLowerCase().split('.').pop() ?? '';
  if (
    /^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(type) ||
    ['png', 'jpg', 'jpeg', 'gif', 'webp', 'avif'].includes(ext)
  ) {
    return 'image';
  }
  if (type === 'application/pdf' || ext === 'pdf') {
    return 'pdf';
  }
  if (
    type.startsWith('text/') ||
    ['application/json', 'application/xml', 'application/x-yaml'].includes(type) ||
    ['txt', 'md', 'csv', 'json', 'xml', 'log', 'yaml', 'yml', 'ini', 'tsv'].includes(ext)
  ) {
    return 'text';
  }
  return null;
}

const TEXT_PREVIEW_BYTES = 512 * 1024;

/**
 * Previews in the page. Images load from the content URL; PDFs are fetched and shown from a blob:
 * URL in the browser's own viewer; text is shown as plain text (never as HTML).
 */
export function PreviewDialog({ node, onClose }: { node: NodeItem | null; onClose: () => void }) {
  const [blobUrl, setBlobUrl] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const kind = node ? previewKind(node) : null;
  const contentUrl = node ? `/api/v1/nodes/${node.id}/content` : '';

  useEffect(() => {
    setBlobUrl(null);
    setText(null);
    setError(null);
    if (!node || (kind !== 'pdf' && kind !== 'text')) {
      return;
    }
    let url: string | null = null;
    let cancelled = false;
    const load = async () => {
      const response = await fetch(contentUrl, {
        credentials: 'same-origin',
        headers: kind === 'text' ? { range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` } : {},
      });
      if (!response.ok && response.status !== 206) {
        throw new Error('The preview could not be loaded. Download the file instead.');
      }
      if (kind === 'text') {
        const body = await response.text();
        if (!cancelled) {
          setText(node.size > TEXT_PREVIEW_BYTES ? `${body}\n\n… (preview shows the first 512 KB)` : body);
        }
      } else {
        const blob = new Blob([await response.arrayBuffer()], { type: 'application/pdf' });
        url = URL.createObjectURL(blob);
        if (!cancelled) {
          setBlobUrl(url);
        }
      }
    };
    load().catch((e: unknown) => !cancelled && setError(e));
    return () => {
      cancelled = true;
      if (url) {
        URL.revokeObjectURL(url);
      }
    };
  }, [node, kind, contentUrl]);

  return (
    <Modal
      opened={node !== null}
      onClose={onClose}
      title={node?.name}
      size="min(1100px, 96vw)"
      styles={{
        title: { fontWeight: 600, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' },
      }}
    >
      <Stack>
        <ErrorNotice error={error} />
        {kind === 'image' && node ? (
          <Center>
            <Image src={contentUrl} alt={node.name} fit="contain" mah="70vh" w="auto" />
          </Center>
        ) : null}
        {kind === 'pdf' ? (
          blobUrl ? (
            <iframe className="preview-frame" src={blobUrl} title={`Preview of ${node?.name ?? 'PDF'}`} />
          ) : !error ? (
            <Center py="xl">
              <Loader aria-label="Loading preview" />
            </Center>
          ) : null
        ) : null}
        {kind === 'text' ? (
          text !== null ? (
            <pre className="preview-text" data-testid="text-preview">
              {text}
            </pre>
          ) : !error ? (
            <Center py="xl">
              <Loader aria-label="Loading preview" />
            </Center>
          ) : null
        ) : null}
        {kind === null && node ? (
          <Text c="dimmed">There is no preview for this kind of file. Download it to open it.</Text>
        ) : null}
        <Group justify="flex-end">
          <Button
            component="a"
            href={`${contentUrl}?download=true`}
            download
            variant="default"
            leftSection={<IconDownload size={16} />}
          >
            Download
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
