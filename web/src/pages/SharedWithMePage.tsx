import { Badge, Card, Center, Group, Loader, Stack, Text, UnstyledButton } from '@mantine/core';
import { IconFolderShare } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { get, type NodeItem } from '../api.ts';
import { EmptyState, ErrorNotice, PageHeader } from '../components/common.tsx';
import { formatRelative } from '../format.ts';
import { navigate } from '../router.tsx';

type Shared = NodeItem & { access: string };

/** Folders someone gave this person access to (where guests start). */
export function SharedWithMePage() {
  const [items, setItems] = useState<Shared[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: Shared[] }>('/shared-with-me')
      .then((r) => setItems(r.items))
      .catch((e: unknown) => {
        setError(e);
        setItems([]);
      });
  }, []);
  return (
    <>
      <PageHeader title="Shared with me" description="Folders that have been opened to you by name." />
      <ErrorNotice error={error} />
      {items === null ? (
        <Center py={48}>
          <Loader aria-label="Loading" />
        </Center>
      ) : items.length === 0 ? (
        <Card withBorder>
          <EmptyState icon={<IconFolderShare size={40} />} title="Nothing shared with you yet">
            When an administrator gives you access to a folder, it appears here.
          </EmptyState>
        </Card>
      ) : (
        <Stack gap="sm">
          {items.map((f) => (
            <Card key={f.id} withBorder p={0} radius="md">
              <UnstyledButton
                onClick={() => navigate(`/files/${f.id}`)}
                p="md"
                w="100%"
                className="file-row"
                data-testid="shared-folder"
              >
                <Group justify="space-between" wrap="nowrap">
                  <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
                    <IconFolderShare size={24} color="var(--mantine-color-custodia-6)" />
                    <Stack gap={0} style={{ minWidth: 0 }}>
                      <Text fw={600} truncate>
                        {f.name}
                      </Text>
                      <Text size="xs" c="dimmed">
                        Changed {formatRelative(f.updatedAt)}
                      </Text>
                    </Stack>
                  </Group>
                  <Badge variant="light" color={f.access === 'write' ? 'teal' : 'gray'}>
                    {f.access === 'write' ? 'Can edit' : 'Can view'}
                  </Badge>
                </Group>
              </UnstyledButton>
            </Card>
          ))}
        </Stack>
      )}
    </>
  );
}
