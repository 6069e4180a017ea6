import { ActionIcon, Button, Card, Group, Progress, ScrollArea, Stack, Text, Tooltip } from '@mantine/core';
import { IconPlayerPause, IconPlayerPlay, IconRefresh, IconX } from '@tabler/icons-react';
import { useSyncExternalStore } from 'react';
import { formatBytes } from '../format.ts';
import { uploads, type UploadItem } from '../uploads.ts';

export function useUploads(): UploadItem[] {
  return useSyncExternalStore(uploads.subscribe, uploads.snapshot);
}

/** The list of uploads with per-file progress, pause/resume, retry and cancel. */
export function UploadsPanel() {
  const items = useUploads();
  if (items.length === 0) {
    return null;
  }
  const done = items.filter((i) => i.status === 'done').length;
  return (
    <Card withBorder radius="md" p="sm" mb="md" aria-label="Uploads" component="section">
      <Group justify="space-between" mb={6}>
        <Text fw={600} size="sm">
          Uploads · {done} of {items.length} done
        </Text>
        {done > 0 ? (
          <Button size="compact-xs" variant="subtle" onClick={() => uploads.clearFinished()}>
            Clear finished
          </Button>
        ) : null}
      </Group>
      <ScrollArea.Autosize mah={240} type="auto">
        <Stack gap={8}>
          {items.map((item) => (
            <UploadRow key={item.id} item={item} />
          ))}
        </Stack>
      </ScrollArea.Autosize>
    </Card>
  );
}

const STATUS_TEXT: Record<UploadItem['status'], string> = {
  queued: 'Waiting',
  uploading: 'Uploading',
  paused: 'Paused',
  failed: 'Stopped',
  done: 'Done',
};

function UploadRow({ item }: { item: UploadItem }) {
  const pct = item.size > 0 ? Math.min(100, (item.sent / item.size) * 100) : item.status === 'done' ? 100 : 0;
  const color =
    item.status === 'failed'
      ? 'red'
      : item.status === 'done'
        ? 'teal'
        : item.status === 'paused'
          ? 'gray'
          : 'custodia';
  return (
    <div data-testid="upload-row" data-status={item.status} data-name={item.name}>
      <Group justify="space-between" wrap="nowrap" gap="xs">
        <Text size="sm" truncate style={{ minWidth: 0, flex: 1 }}>
          {item.name}
        </Text>
        <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
          {STATUS_TEXT[item.status]} · {formatBytes(item.sent)} of {formatBytes(item.size)}
        </Text>
        <Group gap={2} wrap="nowrap">
          {item.status === 'uploading' && item.resumable ? (
            <Tooltip label="Pause">
              <ActionIcon
                variant="subtle"
                size="sm"
                aria-label={`Pause ${item.name}`}
                onClick={() => uploads.pause(item.id)}
              >
                <IconPlayerPause size={14} />
              </ActionIcon>
            </Tooltip>
          ) : null}
          {item.status === 'paused' ? (
            <Tooltip label="Resume">
              <ActionIcon
                variant="subtle"
                size="sm"
                aria-label={`Resume ${item.name}`}
                onClick={() => uploads.resume(item.id)}
              >
                <IconPlayerPlay size={14} />
              </ActionIcon>
            </Tooltip>
          ) : null}
          {item.status === 'failed' ? (
            <Tooltip label={item.resumable ? 'Retry from where it stopped' : 'Retry'}>
              <ActionIcon
                variant="subtle"
                size="sm"
                aria-label={`Retry ${item.name}`}
                onClick={() => uploads.resume(item.id)}
              >
                <IconRefresh size={14} />
              </ActionIcon>
            </Tooltip>
          ) : null}
          {item.status !== 'done' ? (
            <Tooltip label="Cancel">
              <ActionIcon
                variant="subtle"
                color="gray"
                size="sm"
                aria-label={`Cancel ${item.name}`}
                onClick={() => uploads.cancel(item.id)}
              >
                <IconX size={14} />
              </ActionIcon>
            </Tooltip>
          ) : null}
        </Group>
      </Group>
      <Progress
        value={pct}
        color={color}
        size="sm"
        mt={4}
        aria-label={`${item.name} ${Math.round(pct)}%`}
        animated={item.status === 'uploading'}
      />
      {item.error ? (
        <Text size="xs" c="red" mt={2}>
          {item.error}
        </Text>
      ) : null}
    </div>
  );
}
