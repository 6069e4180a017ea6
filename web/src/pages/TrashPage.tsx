import { Button, Card, Center, Group, Loader, Modal, Table, Text } from '@mantine/core';
import { IconTrash } from '@tabler/icons-react';
import { useCallback, useEffect, useState } from 'react';
import { del, get, post, type NodeItem } from '../api.ts';
import { attempt, EmptyState, ErrorNotice, PageHeader } from '../components/common.tsx';
import { formatBytes, formatDateTime } from '../format.ts';

export function TrashPage() {
  const [items, setItems] = useState<NodeItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [purging, setPurging] = useState<NodeItem | null>(null);

  const load = useCallback(async () => {
    try {
      setItems((await get<{ items: NodeItem[] }>('/trash')).items);
    } catch (e) {
      setError(e);
      setItems([]);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const restore = async (node: NodeItem) => {
    if (await attempt(() => post(`/trash/${node.id}/restore`), `“${node.name}” is back where it was.`)) {
      await load();
    }
  };
  const purge = async () => {
    const node = purging;
    setPurging(null);
    if (
      node &&
      (await attempt(
        () => del(`/trash/${node.id}`),
        `“${node.name}” and its versions were deleted for good.`,
      ))
    ) {
      await load();
    }
  };

  return (
    <>
      <PageHeader
        title="Trash"
        description="Deleted files and folders wait here until someone restores them or deletes them for good."
      />
      <ErrorNotice error={error} />
      <Card withBorder radius="md" p={0}>
        {items === null ? (
          <Center py={48}>
            <Loader aria-label="Loading trash" />
          </Center>
        ) : items.length === 0 ? (
          <EmptyState icon={<IconTrash size={40} />} title="The trash is empty" />
        ) : (
          <Table.ScrollContainer minWidth={0}>
            <Table verticalSpacing="sm" aria-label="Items in the trash">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th className="hide-xs">Size</Table.Th>
                  <Table.Th className="hide-sm">Deleted</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((n) => (
                  <Table.Tr key={n.id} data-testid="trash-row" data-name={n.name}>
                    <Table.Td style={{ maxWidth: 0, width: '100%' }}>
                      <Text size="sm" truncate>
                        {n.name}
                        {n.kind === 'folder' ? ' (folder)' : ''}
                      </Text>
                    </Table.Td>
                    <Table.Td className="hide-xs">
                      <Text size="sm" c="dimmed">
                        {n.kind === 'file' ? formatBytes(n.size) : '—'}
                      </Text>
                    </Table.Td>
                    <Table.Td className="hide-sm">
                      <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {formatDateTime(n.trashedAt)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={6} wrap="nowrap" justify="flex-end">
                        <Button
                          size="xs"
                          variant="light"
                          onClick={() => void restore(n)}
                          aria-label={`Restore ${n.name}`}
                        >
                          Restore
                        </Button>
                        <Button
                          size="xs"
                          variant="subtle"
                          color="red"
                          onClick={() => setPurging(n)}
                          aria-label={`Delete ${n.name} for good`}
                        >
                          Delete for good
                        </Button>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
      <Modal opened={purging !== null} onClose={() => setPurging(null)} title="Delete for good?">
        <Text size="sm">
          “{purging?.name}” and all its versions will be destroyed. This cannot be undone, by you or by anyone
          else.
        </Text>
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={() => setPurging(null)}>
            Keep it
          </Button>
          <Button color="red" onClick={() => void purge()}>
            Delete for good
          </Button>
        </Group>
      </Modal>
    </>
  );
}
