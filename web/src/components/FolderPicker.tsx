import {
  Anchor,
  Breadcrumbs,
  Button,
  Group,
  Loader,
  Modal,
  ScrollArea,
  Stack,
  Text,
  TextInput,
  UnstyledButton,
} from '@mantine/core';
import { IconChevronRight, IconFolder } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { get, type NodeDetail, type NodeItem } from '../api.ts';
import { ErrorNotice } from './common.tsx';

/** A dialog that lets someone walk the folder tree and choose a destination folder. */
export function FolderPicker({
  opened,
  title,
  startId,
  confirmLabel,
  excludeId,
  withName,
  initialName,
  onClose,
  onPick,
}: {
  opened: boolean;
  title: string;
  startId: string | null;
  confirmLabel: string;
  excludeId?: string;
  withName?: boolean;
  initialName?: string;
  onClose: () => void;
  onPick: (folderId: string, name?: string) => Promise<void>;
}) {
  const [folderId, setFolderId] = useState<string | null>(startId);
  const [detail, setDetail] = useState<NodeDetail | null>(null);
  const [folders, setFolders] = useState<NodeItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState(initialName ?? '');

  useEffect(() => {
    if (opened) {
      setFolderId(startId);
      setName(initialName ?? '');
      setError(null);
    }
  }, [opened, startId, initialName]);

  useEffect(() => {
    if (!opened) {
      return;
    }
    let cancelled = false;
    setFolders(null);
    const load = async () => {
      const d = folderId ? await get<NodeDetail>(`/nodes/${folderId}`) : await get<NodeDetail>('/nodes/root');
      const children = await get<{ items: NodeItem[] }>(`/nodes/${d.node.id}/children?sort=name`);
      if (!cancelled) {
        setDetail(d);
        setFolders(children.items.filter((n) => n.kind === 'folder' && n.id !== excludeId));
      }
    };
    load().catch((e: unknown) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [opened, folderId, excludeId]);

  const confirm = async () => {
    if (!detail) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onPick(detail.node.id, withName ? name : undefined);
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened={opened} onClose={onClose} title={title} size="lg">
      <Stack>
        {detail ? (
          <Breadcrumbs
            separator={<IconChevronRight size={14} />}
            separatorMargin={4}
            style={{ flexWrap: 'wrap' }}
          >
            {[...detail.path, { id: detail.node.id, name: detail.node.name }].map((p, i, all) =>
              i === all.length - 1 ? (
                <Text key={p.id} size="sm" fw={600}>
                  {p.name || 'Files'}
                </Text>
              ) : (
                <Anchor
                  key={p.id}
                  size="sm"
                  component="button"
                  type="button"
                  onClick={() => setFolderId(p.id)}
                >
                  {p.name || 'Files'}
                </Anchor>
              ),
            )}
          </Breadcrumbs>
        ) : null}
        <ScrollArea.Autosize mah={300} type="auto">
          {folders === null ? (
            <Loader size="sm" aria-label="Loading folders" />
          ) : folders.length === 0 ? (
            <Text c="dimmed" size="sm" py="sm">
              No folders inside. Choose this folder, or go back up.
            </Text>
          ) : (
            <Stack gap={2}>
              {folders.map((f) => (
                <UnstyledButton
                  key={f.id}
                  onClick={() => setFolderId(f.id)}
                  p={8}
                  style={{ borderRadius: 6 }}
                  className="file-row"
                  aria-label={`Open folder ${f.name}`}
                >
                  <Group gap="sm" wrap="nowrap">
                    <IconFolder size={18} color="var(--mantine-color-custodia-6)" />
                    <Text size="sm" truncate>
                      {f.name}
                    </Text>
                  </Group>
                </UnstyledButton>
              ))}
            </Stack>
          )}
        </ScrollArea.Autosize>
        {withName ? (
          <TextInput label="Name of the copy" value={name} onChange={(e) => setName(e.currentTarget.value)} />
        ) : null}
        <ErrorNotice error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={() => void confirm()} loading={busy} disabled={!detail}>
            {confirmLabel}
            {detail ? ` to “${detail.node.name || 'Files'}”` : ''}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
