import { Button, Card, Group, Loader, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { IconDownload, IconFile, IconLock } from '@tabler/icons-react';
import { useEffect, useState, type FormEvent } from 'react';
import { get, post, type PublicShareInfo } from '../api.ts';
import { Brand, ErrorNotice, FullPageCentre } from '../components/common.tsx';
import { formatBytes, formatDateTime } from '../format.ts';

/**
 * What a recipient of a share link sees: the file, a password prompt when the link has one, and a
 * download button. Nothing else of the organisation is exposed, and no cookie is set.
 */
export function PublicSharePage({ token }: { token: string }) {
  const [info, setInfo] = useState<PublicShareInfo | null>(null);
  const [ticket, setTicket] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const safeToken = /^[A-Za-z0-9_-]+$/.test(token) ? token : '';

  useEffect(() => {
    if (!safeToken) {
      setLoadError(new Error('This link is not complete. Check that you copied all of it.'));
      return;
    }
    get<PublicShareInfo>(`/public/shares/${safeToken}`).then(setInfo).catch(setLoadError);
  }, [safeToken]);

  const unlock = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await post<{ ticket: string; info: PublicShareInfo }>(
        `/public/shares/${safeToken}/unlock`,
        {
          password,
        },
      );
      setTicket(result.ticket);
      setInfo(result.info);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const locked = info?.needsPassword && !ticket;
  const href = `/api/v1/public/shares/${safeToken}/content${ticket ? `?ticket=${encodeURIComponent(ticket)}` : ''}`;

  return (
    <FullPageCentre width={480}>
      <Stack gap="lg">
        <Brand size="lg" />
        <Card withBorder radius="lg" p="xl" shadow="xs">
          {loadError ? (
            <Stack>
              <Title order={1} fz={22}>
                This link does not work
              </Title>
              <ErrorNotice error={loadError} />
              <Text size="sm" c="dimmed">
                Links can expire, reach their download limit or be withdrawn. Ask the person who sent it for a
                new one.
              </Text>
            </Stack>
          ) : !info ? (
            <Loader aria-label="Loading" />
          ) : locked ? (
            <form onSubmit={(e) => void unlock(e)}>
              <Stack gap="md">
                <Group gap="xs">
                  <IconLock size={22} />
                  <Title order={1} fz={22}>
                    A file was shared with you
                  </Title>
                </Group>
                <Text size="sm" c="dimmed">
                  This link is protected with a password. The sender will have given it to you separately.
                </Text>
                <ErrorNotice error={error} />
                <PasswordInput
                  label="Password"
                  required
                  autoFocus
                  value={password}
                  onChange={(e) => setPassword(e.currentTarget.value)}
                />
                <Button type="submit" loading={busy}>
                  Unlock
                </Button>
              </Stack>
            </form>
          ) : (
            <Stack gap="md">
              <Group gap="sm" wrap="nowrap" align="flex-start">
                <IconFile size={36} stroke={1.4} />
                <div style={{ minWidth: 0 }}>
                  <Title order={1} fz={20} style={{ wordBreak: 'break-word' }} data-testid="shared-name">
                    {info.name ?? 'Shared file'}
                  </Title>
                  <Text size="sm" c="dimmed">
                    {info.size !== null ? formatBytes(info.size) : ''}
                  </Text>
                </div>
              </Group>
              <Button component="a" href={href} download leftSection={<IconDownload size={18} />} size="md">
                Download
              </Button>
              <Stack gap={2}>
                {info.expiresAt ? (
                  <Text size="xs" c="dimmed">
                    This link works until {formatDateTime(info.expiresAt)}.
                  </Text>
                ) : null}
                {info.downloadsLeft !== null ? (
                  <Text size="xs" c="dimmed">
                    {info.downloadsLeft} {info.downloadsLeft === 1 ? 'download' : 'downloads'} left.
                  </Text>
                ) : null}
              </Stack>
            </Stack>
          )}
        </Card>
        <Text size="xs" c="dimmed" ta="center">
          Shared securely with Custodia. Files are encrypted at rest; every download is recorded.
        </Text>
      </Stack>
    </FullPageCentre>
  );
}
