import {
  ActionIcon,
  Breadcrumbs,
  Button,
  Card,
  Center,
  Checkbox,
  Group,
  Loader,
  Menu,
  NativeSelect,
  Table,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import {
  IconArrowDown,
  IconArrowUp,
  IconChevronRight,
  IconCopy,
  IconDots,
  IconDownload,
  IconEye,
  IconFile,
  IconFileText,
  IconFileTypePdf,
  IconFolder,
  IconFolderPlus,
  IconHistory,
  IconListSearch,
  IconPencil,
  IconPhoto,
  IconSearch,
  IconShare,
  IconTrash,
  IconTransfer,
  IconUpload,
} from '@tabler/icons-react';
import { useCallback, useEffect, useRef, useState, type DragEvent, type ReactNode } from 'react';
import { ApiError, del, get, patch, post, type NodeDetail, type NodeItem } from '../api.ts';
import { attempt, EmptyState, ErrorNotice, notifyDone, PageHeader } from '../components/common.tsx';
import {
  NameDialog,
  PreviewDialog,
  previewKind,
  ShareDialog,
  VersionsDialog,
} from '../components/FileDialogs.tsx';
import { FolderPicker } from '../components/FolderPicker.tsx';
import { foldersChanged } from '../components/FolderTree.tsx';
import { UploadsPanel } from '../components/UploadsPanel.tsx';
import { formatBytes, formatDateTime, formatRelative } from '../format.ts';
import { useMemberNames } from '../members.ts';
import { Link, navigate } from '../router.tsx';
import { abilities, useSession } from '../session.tsx';
import { uploads } from '../uploads.ts';

type SortKey = 'name' | 'size' | 'updatedAt';

export function FilesPage({ folderId }: { folderId: string | null }) {
  const { me } = useSession();
  const can = abilities(me);
  const members = useMemberNames(can.canSeeMembers);
  const [detail, setDetail] = useState<NodeDetail | null>(null);
  const [items, setItems] = useState<NodeItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [sort, setSort] = useState<SortKey>('name');
  const [order, setOrder] = useState<'asc' | 'desc'>('asc');
  const [filter, setFilter] = useState('');
  const [debouncedFilter] = useDebouncedValue(filter, 250);
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);

  const [newFolder, setNewFolder] = useState(false);
  const [renaming, setRenaming] = useState<NodeItem | null>(null);
  const [moving, setMoving] = useState<NodeItem | null>(null);
  const [copying, setCopying] = useState<NodeItem | null>(null);
  const [versionsOf, setVersionsOf] = useState<NodeItem | null>(null);
  const [sharing, setSharing] = useState<NodeItem | null>(null);
  const [previewing, setPreviewing] = useState<NodeItem | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkMoving, setBulkMoving] = useState(false);

  const currentId = detail?.node.id;

  const load = useCallback(async () => {
    setError(null);
    try {
      const d = folderId ? await get<NodeDetail>(`/nodes/${folderId}`) : await get<NodeDetail>('/nodes/root');
      if (d.node.kind !== 'folder') {
        navigate(d.node.parentId ? `/files/${d.node.parentId}` : '/files', { replace: true });
        return;
      }
      const params = new URLSearchParams({ sort, order });
      if (debouncedFilter.trim()) {
        params.set('q', debouncedFilter.trim());
      }
      const children = await get<{ items: NodeItem[] }>(`/nodes/${d.node.id}/children?${params.toString()}`);
      setDetail(d);
      setItems(children.items);
    } catch (e) {
      if (!folderId && e instanceof ApiError && (e.status === 403 || e.status === 404) && can.isGuest) {
        navigate('/shared', { replace: true });
        return;
      }
      setError(e);
      setItems([]);
    }
  }, [folderId, sort, order, debouncedFilter, can.isGuest]);

  useEffect(() => {
    setItems(null);
    setSelected(new Set());
  }, [folderId]);

  useEffect(() => {
    void load();
  }, [load]);

  // Refresh the listing when an upload into this folder finishes.
  useEffect(
    () =>
      uploads.onFinished((item) => {
        if (item.parentId === currentId) {
          void load();
        }
      }),
    [currentId, load],
  );

  const canWrite = Boolean(detail?.canWrite);

  const startUpload = (files: FileList | File[] | null) => {
    if (!files || !currentId) {
      return;
    }
    const list = [...files].filter((f) => f.size > 0 || f.type !== '');
    if (list.length > 0) {
      uploads.add(list, currentId);
    }
  };

  const onDragEnter = (event: DragEvent) => {
    if (!canWrite || !event.dataTransfer.types.includes('Files')) {
      return;
    }
    event.preventDefault();
    dragDepth.current += 1;
    setDragging(true);
  };
  const onDragLeave = () => {
    dragDepth.current = Math.max(0, dragDepth.current - 1);
    if (dragDepth.current === 0) {
      setDragging(false);
    }
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    dragDepth.current = 0;
    setDragging(false);
    if (canWrite) {
      startUpload(event.dataTransfer.files);
    }
  };

  const toggleSort = (key: SortKey) => {
    if (sort === key) {
      setOrder(order === 'asc' ? 'desc' : 'asc');
    } else {
      setSort(key);
      setOrder(key === 'updatedAt' ? 'desc' : 'asc');
    }
  };

  const open = (node: NodeItem) => {
    if (node.kind === 'folder') {
      navigate(`/files/${node.id}`);
    } else {
      setPreviewing(node);
    }
  };

  const trash = async (node: NodeItem) => {
    if (await attempt(() => del(`/nodes/${node.id}`))) {
      const id = `trash-${node.id}`;
      notifications.show({
        id,
        color: 'teal',
        autoClose: 8000,
        message: (
          <Group justify="space-between" wrap="nowrap" gap="sm">
            <span>“{node.name}” moved to the trash.</span>
            <Button
              size="compact-sm"
              variant="subtle"
              onClick={() => {
                notifications.hide(id);
                void attempt(() => post(`/trash/${node.id}/restore`), `“${node.name}” is back.`).then(() => {
                  void load();
                  foldersChanged();
                });
              }}
            >
              Undo
            </Button>
          </Group>
        ),
      });
      await load();
      foldersChanged();
    }
  };

  const chosen = (items ?? []).filter((n) => selected.has(n.id));

  const trashSelected = async () => {
    const list = chosen;
    let done = 0;
    for (const node of list) {
      if (await attempt(() => del(`/nodes/${node.id}`))) {
        done += 1;
      }
    }
    setSelected(new Set());
    if (done > 0) {
      notifyDone(
        `${done} ${done === 1 ? 'item' : 'items'} moved to the trash. You can restore them from Trash.`,
      );
    }
    await load();
    foldersChanged();
  };

  const who = (id: string | null) => {
    if (!id) {
      return '—';
    }
    if (id === me?.user.id) {
      return 'You';
    }
    return members.get(id)?.displayName ?? '—';
  };

  // Breadcrumbs: guests start at the folder they were given, not at the organisation's top.
  const crumbs = detail ? [...detail.path, { id: detail.node.id, name: detail.node.name }] : [];
  const rootLabel = can.isGuest ? 'Shared with me' : 'Files';

  return (
    <div
      onDragEnter={onDragEnter}
      onDragOver={(e) => canWrite && e.preventDefault()}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      {dragging ? (
        <div className="drop-overlay" aria-hidden>
          <Card shadow="md" p="lg" radius="lg">
            <Group>
              <IconUpload size={22} />
              <Text fw={600}>Drop to upload into “{detail?.node.parentId ? detail.node.name : 'Files'}”</Text>
            </Group>
          </Card>
        </div>
      ) : null}
      <PageHeader
        title={
          <nav aria-label="Folder path">
            <Breadcrumbs
              separator={<IconChevronRight size={16} />}
              separatorMargin={6}
              style={{ flexWrap: 'wrap', rowGap: 4 }}
            >
              {can.isGuest ? (
                <Link to="/shared" fz="inherit" fw="inherit">
                  {rootLabel}
                </Link>
              ) : null}
              {crumbs
                .filter((_, i) => !can.isGuest || i > 0)
                .map((c, i, all) =>
                  i === all.length - 1 ? (
                    <span key={c.id} aria-current="page">
                      {c.name && (i > 0 || can.isGuest) ? c.name : rootLabel}
                    </span>
                  ) : (
                    <Link
                      key={c.id}
                      to={i === 0 && !can.isGuest ? '/files' : `/files/${c.id}`}
                      fz="inherit"
                      fw="inherit"
                      c="dimmed"
                    >
                      {i === 0 && !can.isGuest ? rootLabel : c.name}
                    </Link>
                  ),
                )}
            </Breadcrumbs>
          </nav>
        }
        actions={
          canWrite ? (
            <>
              <Button
                variant="default"
                leftSection={<IconFolderPlus size={18} />}
                onClick={() => setNewFolder(true)}
              >
                New folder
              </Button>
              <Button leftSection={<IconUpload size={18} />} onClick={() => fileInput.current?.click()}>
                Upload
              </Button>
              <input
                ref={fileInput}
                type="file"
                multiple
                hidden
                data-testid="file-input"
                onChange={(e) => {
                  startUpload(e.currentTarget.files);
                  e.currentTarget.value = '';
                }}
              />
            </>
          ) : undefined
        }
      />
      <UploadsPanel />
      <Card withBorder radius="md" p={0}>
        <Group
          p="sm"
          justify="space-between"
          wrap="wrap"
          gap="sm"
          style={{ borderBottom: '1px solid var(--mantine-color-gray-3)' }}
        >
          <TextInput
            placeholder="Filter this folder by name"
            aria-label="Filter this folder by name"
            leftSection={<IconSearch size={16} />}
            value={filter}
            onChange={(e) => setFilter(e.currentTarget.value)}
            style={{ flex: '1 1 240px', maxWidth: 380 }}
          />
          <NativeSelect
            hiddenFrom="sm"
            aria-label="Sort"
            value={`${sort}:${order}`}
            onChange={(e) => {
              const [key, direction] = e.currentTarget.value.split(':') as [SortKey, 'asc' | 'desc'];
              setSort(key);
              setOrder(direction);
            }}
            data={[
              { value: 'name:asc', label: 'Name A–Z' },
              { value: 'name:desc', label: 'Name Z–A' },
              { value: 'updatedAt:desc', label: 'Newest first' },
              { value: 'updatedAt:asc', label: 'Oldest first' },
              { value: 'size:desc', label: 'Largest first' },
              { value: 'size:asc', label: 'Smallest first' },
            ]}
          />
          {canWrite && chosen.length > 0 ? (
            <Group gap="xs" wrap="wrap" role="group" aria-label="Selection">
              <Text size="sm" fw={600}>
                {chosen.length} selected
              </Text>
              <Button
                size="xs"
                variant="default"
                leftSection={<IconTransfer size={14} />}
                onClick={() => setBulkMoving(true)}
              >
                Move to…
              </Button>
              <Button
                size="xs"
                variant="light"
                color="red"
                leftSection={<IconTrash size={14} />}
                onClick={() => void trashSelected()}
              >
                Move to trash
              </Button>
              <Button size="xs" variant="subtle" color="gray" onClick={() => setSelected(new Set())}>
                Clear selection
              </Button>
            </Group>
          ) : canWrite ? (
            <Text size="xs" c="dimmed" visibleFrom="sm">
              Tip: drag files from your computer onto this page to upload them.
            </Text>
          ) : detail ? (
            <Text size="xs" c="dimmed">
              You can view and download here, but not change anything.
            </Text>
          ) : null}
        </Group>
        {error ? (
          <div style={{ padding: 16 }}>
            <ErrorNotice error={error} />
          </div>
        ) : null}
        {items === null ? (
          <Center py={48}>
            <Loader aria-label="Loading folder" />
          </Center>
        ) : items.length === 0 && !error ? (
          debouncedFilter ? (
            <EmptyState icon={<IconSearch size={36} />} title="Nothing matches">
              No file or folder here has “{debouncedFilter}” in its name.
            </EmptyState>
          ) : (
            <EmptyState icon={<IconFolder size={40} />} title="This folder is empty">
              {canWrite
                ? 'Upload files with the Upload button or drag them here. Create folders to keep things tidy.'
                : 'Nothing has been put here yet.'}
            </EmptyState>
          )
        ) : items.length > 0 ? (
          <Table.ScrollContainer minWidth={0}>
            <Table
              verticalSpacing="sm"
              highlightOnHover
              aria-label="Folder contents"
              data-testid="file-table"
            >
              <Table.Thead>
                <Table.Tr>
                  {canWrite ? (
                    <Table.Th w={36}>
                      <Checkbox
                        size="xs"
                        aria-label="Select everything in this folder"
                        checked={items.length > 0 && chosen.length === items.length}
                        indeterminate={chosen.length > 0 && chosen.length < items.length}
                        onChange={(e) =>
                          setSelected(e.currentTarget.checked ? new Set(items.map((n) => n.id)) : new Set())
                        }
                      />
                    </Table.Th>
                  ) : null}
                  <Table.Th>
                    <SortButton
                      label="Name"
                      active={sort === 'name'}
                      order={order}
                      onClick={() => toggleSort('name')}
                    />
                  </Table.Th>
                  <Table.Th className="hide-xs" w={110}>
                    <SortButton
                      label="Size"
                      active={sort === 'size'}
                      order={order}
                      onClick={() => toggleSort('size')}
                    />
                  </Table.Th>
                  <Table.Th className="hide-sm" w={190}>
                    <SortButton
                      label="Modified"
                      active={sort === 'updatedAt'}
                      order={order}
                      onClick={() => toggleSort('updatedAt')}
                    />
                  </Table.Th>
                  <Table.Th className="hide-sm" w={160}>
                    By
                  </Table.Th>
                  <Table.Th w={52}>
                    <span className="visually-hidden" style={{ position: 'absolute', left: -9999 }}>
                      Actions
                    </span>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((node) => (
                  <Table.Tr
                    key={node.id}
                    data-testid="file-row"
                    data-name={node.name}
                    bg={selected.has(node.id) ? 'var(--mantine-color-custodia-0)' : undefined}
                  >
                    {canWrite ? (
                      <Table.Td>
                        <Checkbox
                          size="xs"
                          aria-label={`Select ${node.name}`}
                          checked={selected.has(node.id)}
                          onChange={(e) => {
                            const next = new Set(selected);
                            if (e.currentTarget.checked) {
                              next.add(node.id);
                            } else {
                              next.delete(node.id);
                            }
                            setSelected(next);
                          }}
                        />
                      </Table.Td>
                    ) : null}
                    <Table.Td style={{ maxWidth: 0, width: '100%' }}>
                      <button
                        type="button"
                        className="file-name-button"
                        onClick={() => open(node)}
                        title={node.name}
                      >
                        {iconFor(node)}
                        <span>{node.name}</span>
                      </button>
                      <Text size="xs" c="dimmed" hiddenFrom="sm">
                        {node.kind === 'file' ? `${formatBytes(node.size)} · ` : ''}
                        {formatRelative(node.updatedAt)}
                      </Text>
                    </Table.Td>
                    <Table.Td className="hide-xs">
                      <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {node.kind === 'file' ? formatBytes(node.size) : '—'}
                      </Text>
                    </Table.Td>
                    <Table.Td className="hide-sm">
                      <Tooltip label={formatDateTime(node.updatedAt)} openDelay={400}>
                        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                          {formatRelative(node.updatedAt)}
                        </Text>
                      </Tooltip>
                    </Table.Td>
                    <Table.Td className="hide-sm">
                      <Text size="sm" c="dimmed" truncate>
                        {who(node.updatedBy ?? node.createdBy)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <RowMenu
                        node={node}
                        canWrite={canWrite}
                        canShare={can.canShare}
                        onOpen={() => open(node)}
                        onRename={() => setRenaming(node)}
                        onMove={() => setMoving(node)}
                        onCopy={() => setCopying(node)}
                        onVersions={() => setVersionsOf(node)}
                        onShare={() => setSharing(node)}
                        onTrash={() => void trash(node)}
                        onActivity={
                          can.canCompliance ? () => navigate(`/activity?file=${node.id}`) : undefined
                        }
                      />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : null}
      </Card>

      <NameDialog
        opened={newFolder}
        title="New folder"
        label="Folder name"
        initial=""
        confirmLabel="Create folder"
        onClose={() => setNewFolder(false)}
        onSubmit={async (name) => {
          await post(`/nodes/${currentId}/folders`, { name });
          await load();
          foldersChanged();
        }}
      />
      <NameDialog
        opened={renaming !== null}
        title="Rename"
        label="New name"
        initial={renaming?.name ?? ''}
        confirmLabel="Rename"
        onClose={() => setRenaming(null)}
        onSubmit={async (name) => {
          await patch(`/nodes/${renaming?.id}`, { name });
          await load();
          foldersChanged();
        }}
      />
      <FolderPicker
        opened={moving !== null}
        title={`Move “${moving?.name ?? ''}”`}
        startId={currentId ?? null}
        excludeId={moving?.id}
        confirmLabel="Move"
        onClose={() => setMoving(null)}
        onPick={async (parentId) => {
          await patch(`/nodes/${moving?.id}`, { parentId });
          await load();
          foldersChanged();
        }}
      />
      <FolderPicker
        opened={bulkMoving}
        title={`Move ${chosen.length} ${chosen.length === 1 ? 'item' : 'items'}`}
        startId={currentId ?? null}
        excludeId={chosen.length === 1 && chosen[0]?.kind === 'folder' ? chosen[0].id : undefined}
        confirmLabel="Move"
        onClose={() => setBulkMoving(false)}
        onPick={async (parentId) => {
          for (const node of chosen) {
            await patch(`/nodes/${node.id}`, { parentId });
          }
          setSelected(new Set());
          await load();
          foldersChanged();
        }}
      />
      <FolderPicker
        opened={copying !== null}
        title={`Copy “${copying?.name ?? ''}”`}
        startId={currentId ?? null}
        excludeId={copying?.kind === 'folder' ? copying.id : undefined}
        confirmLabel="Copy"
        withName
        initialName={copying?.name}
        onClose={() => setCopying(null)}
        onPick={async (parentId, name) => {
          await post(`/nodes/${copying?.id}/copy`, {
            parentId,
            ...(name && name !== copying?.name ? { name } : {}),
          });
          await load();
          foldersChanged();
        }}
      />
      <VersionsDialog
        node={versionsOf}
        canWrite={canWrite}
        members={members}
        onClose={() => setVersionsOf(null)}
        onRestored={() => void load()}
      />
      <ShareDialog node={sharing} onClose={() => setSharing(null)} />
      <PreviewDialog node={previewing} onClose={() => setPreviewing(null)} />
    </div>
  );
}

function SortButton({
  label,
  active,
  order,
  onClick,
}: {
  label: string;
  active: boolean;
  order: 'asc' | 'desc';
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      className="sort-button"
      onClick={onClick}
      aria-label={`Sort by ${label.toLowerCase()}${active ? (order === 'asc' ? ', ascending' : ', descending') : ''}`}
    >
      {label}
      {active ? order === 'asc' ? <IconArrowUp size={14} /> : <IconArrowDown size={14} /> : null}
    </button>
  );
}

function iconFor(node: NodeItem): ReactNode {
  const props = { size: 20, stroke: 1.6, style: { flexShrink: 0 } } as const;
  if (node.kind === 'folder') {
    return (
      <IconFolder {...props} color="var(--mantine-color-custodia-6)" fill="var(--mantine-color-custodia-1)" />
    );
  }
  switch (previewKind(node)) {
    case 'image':
      return <IconPhoto {...props} color="var(--mantine-color-grape-6)" />;
    case 'pdf':
      return <IconFileTypePdf {...props} color="var(--mantine-color-red-7)" />;
    case 'text':
      return <IconFileText {...props} color="var(--mantine-color-gray-7)" />;
    default:
      return <IconFile {...props} color="var(--mantine-color-gray-6)" />;
  }
}

function RowMenu({
  node,
  canWrite,
  canShare,
  onOpen,
  onRename,
  onMove,
  onCopy,
  onVersions,
  onShare,
  onTrash,
  onActivity,
}: {
  node: NodeItem;
  canWrite: boolean;
  canShare: boolean;
  onOpen: () => void;
  onRename: () => void;
  onMove: () => void;
  onCopy: () => void;
  onVersions: () => void;
  onShare: () => void;
  onTrash: () => void;
  /** Owners, admins and compliance officers: the file's history on the Activity page. */
  onActivity?: () => void;
}) {
  const isFile = node.kind === 'file';
  return (
    <Menu position="bottom-end" withinPortal shadow="md" width={210}>
      <Menu.Target>
        <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${node.name}`}>
          <IconDots size={18} />
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        {isFile ? (
          <>
            <Menu.Item leftSection={<IconEye size={16} />} onClick={onOpen}>
              Preview
            </Menu.Item>
            <Menu.Item
              leftSection={<IconDownload size={16} />}
              component="a"
              href={`/api/v1/nodes/${node.id}/content?download=true`}
              download
            >
              Download
            </Menu.Item>
            <Menu.Item leftSection={<IconHistory size={16} />} onClick={onVersions}>
              Version history
            </Menu.Item>
            {canShare ? (
              <Menu.Item leftSection={<IconShare size={16} />} onClick={onShare}>
                Share link…
              </Menu.Item>
            ) : null}
            {onActivity ? (
              <Menu.Item leftSection={<IconListSearch size={16} />} onClick={onActivity}>
                Activity
              </Menu.Item>
            ) : null}
          </>
        ) : (
          <Menu.Item leftSection={<IconFolder size={16} />} onClick={onOpen}>
            Open
          </Menu.Item>
        )}
        {canWrite ? (
          <>
            <Menu.Divider />
            <Menu.Item leftSection={<IconPencil size={16} />} onClick={onRename}>
              Rename…
            </Menu.Item>
            <Menu.Item leftSection={<IconTransfer size={16} />} onClick={onMove}>
              Move to…
            </Menu.Item>
            <Menu.Item leftSection={<IconCopy size={16} />} onClick={onCopy}>
              Copy to…
            </Menu.Item>
            <Menu.Divider />
            <Menu.Item leftSection={<IconTrash size={16} />} color="red" onClick={onTrash}>
              Move to trash
            </Menu.Item>
          </>
        ) : null}
      </Menu.Dropdown>
    </Menu>
  );
}
