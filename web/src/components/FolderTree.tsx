import { Loader, NavLink } from '@mantine/core';
import { IconChevronRight, IconFolder, IconFolderOpen } from '@tabler/icons-react';
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { get, type NodeDetail, type NodeItem } from '../api.ts';
import { navigate } from '../router.tsx';

const listeners = new Set<() => void>();

/** Tells the folder tree that folders were created, renamed, moved or deleted. */
export function foldersChanged(): void {
  listeners.forEach((l) => l());
}

/**
 * The organisation's folders as a tree (in the side navigation while browsing files). Children load
 * when a folder is opened; the path to the current folder is opened by itself.
 */
export function FolderTree({ currentId, onNavigate }: { currentId: string | null; onNavigate: () => void }) {
  const [rootId, setRootId] = useState<string | null>(null);
  const [children, setChildren] = useState<Map<string, NodeItem[]>>(new Map());
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [generation, setGeneration] = useState(0);

  const loadChildren = useCallback(async (id: string) => {
    try {
      const list = await get<{ items: NodeItem[] }>(`/nodes/${id}/children?sort=name`);
      setChildren((prev) =>
        new Map(prev).set(
          id,
          list.items.filter((n) => n.kind === 'folder'),
        ),
      );
    } catch {
      setChildren((prev) => new Map(prev).set(id, []));
    }
  }, []);

  useEffect(() => {
    const l = () => setGeneration((g) => g + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);

  // Open the path to the current folder (and the top folder).
  useEffect(() => {
    let cancelled = false;
    const open = async () => {
      const detail = currentId
        ? await get<NodeDetail>(`/nodes/${currentId}`)
        : await get<NodeDetail>('/nodes/root');
      const top = detail.path[0]?.id ?? detail.node.id;
      const chain = [...detail.path.map((p) => p.id), detail.node.id];
      if (cancelled) {
        return;
      }
      setRootId(top);
      setExpanded((prev) => new Set([...prev, ...chain]));
      await Promise.all(chain.map((id) => loadChildren(id)));
    };
    open().catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [currentId, loadChildren]);

  // Something changed: reload what is open.
  useEffect(() => {
    if (generation > 0) {
      expanded.forEach((id) => void loadChildren(id));
    }
  }, [generation]);

  if (!rootId) {
    return null;
  }

  const toggle = (id: string) => {
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) {
        next.delete(id);
      } else {
        next.add(id);
        if (!children.has(id)) {
          void loadChildren(id);
        }
      }
      return next;
    });
  };

  const renderLevel = (parentId: string, depth: number): ReactNode => {
    const list = children.get(parentId);
    if (!list) {
      return <Loader size="xs" ml={depth * 12 + 12} my={4} aria-label="Loading folders" />;
    }
    return list.map((folder) => {
      const isOpen = expanded.has(folder.id);
      const isCurrent = folder.id === currentId;
      return (
        <NavLink
          key={folder.id}
          href={`/files/${folder.id}`}
          label={folder.name}
          active={isCurrent}
          aria-current={isCurrent ? 'page' : undefined}
          leftSection={isOpen ? <IconFolderOpen size={16} /> : <IconFolder size={16} />}
          rightSection={
            <IconChevronRight
              size={14}
              style={{ transform: isOpen ? 'rotate(90deg)' : undefined, transition: 'transform 120ms' }}
              onClick={(event) => {
                event.preventDefault();
                event.stopPropagation();
                toggle(folder.id);
              }}
              aria-hidden
            />
          }
          opened={isOpen}
          disableRightSectionRotation
          childrenOffset={12}
          onClick={(event) => {
            event.preventDefault();
            if (!isOpen) {
              toggle(folder.id);
            }
            onNavigate();
            navigate(`/files/${folder.id}`);
          }}
          styles={{ root: { borderRadius: 6, paddingTop: 4, paddingBottom: 4 }, label: { fontSize: 13 } }}
          style={{ paddingLeft: 8 }}
        >
          {isOpen ? renderLevel(folder.id, depth + 1) : null}
        </NavLink>
      );
    });
  };

  return (
    <nav
      aria-label="Folders"
      style={{ marginLeft: 14, borderLeft: '1px solid var(--mantine-color-gray-3)', paddingLeft: 4 }}
    >
      {renderLevel(rootId, 0)}
    </nav>
  );
}
