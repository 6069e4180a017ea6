import { Alert, Badge, Button, Card, Group, Modal, Stack, Table, Text, Title } from '@mantine/core';
import { IconShieldCheck, IconShieldExclamation } from '@tabler/icons-react';
import { useCallback, useEffect, useState } from 'react';
import { get, post, ROLE_LABEL, type SessionInfo } from '../api.ts';
import { attempt, ErrorNotice, PageHeader } from '../components/common.tsx';
import { RecoveryCodesPanel, TotpEnrolment } from '../components/TotpEnrolment.tsx';
import { describeUserAgent, formatDateTime, formatRelative } from '../format.ts';
import { useSession } from '../session.tsx';

export function AccountPage() {
  const { me, refresh } = useSession();
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [enrolling, setEnrolling] = useState(false);
  const [newCodes, setNewCodes] = useState<string[] | null>(null);
  const welcome = new URLSearchParams(window.location.search).has('welcome');

  const loadSessions = useCallback(async () => {
    try {
      setSessions((await get<{ sessions: SessionInfo[] }>('/me/sessions')).sessions);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void loadSessions();
  }, [loadSessions]);

  if (!me) {
    return null;
  }
  const others = (sessions ?? []).filter((s) => !s.isCurrent).length;

  const signOutOthers = async () => {
    let count = 0;
    if (
      await attempt(async () => {
        count = (await post<{ count: number }>('/me/sessions/sign-out-others')).count;
      })
    ) {
      await attempt(
        async () => undefined,
        count === 1 ? 'Signed out 1 other session.' : `Signed out ${count} other sessions.`,
      );
      await loadSessions();
    }
  };

  const replaceCodes = async () => {
    await attempt(async () =>
      setNewCodes((await post<{ recoveryCodes: string[] }>('/me/mfa/recovery-codes')).recoveryCodes),
    );
  };

  return (
    <>
      <PageHeader title="Account and security" description={`${me.user.displayName} · ${me.user.email}`} />
      {welcome && !me.user.mfaEnabled ? (
        <Alert color="custodia" variant="light" mb="lg" title="You are set up">
          Next: turn on two-factor sign-in below. Then open the Operator console to create the first
          organisation and invite its owner.
        </Alert>
      ) : null}
      <Stack gap="lg">
        <Card withBorder radius="md" p="lg" component="section" aria-labelledby="mfa-title">
          <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
            <Group gap="sm" wrap="nowrap" align="flex-start">
              {me.user.mfaEnabled ? (
                <IconShieldCheck size={28} color="var(--mantine-color-teal-7)" style={{ flexShrink: 0 }} />
              ) : (
                <IconShieldExclamation
                  size={28}
                  color="var(--mantine-color-orange-7)"
                  style={{ flexShrink: 0 }}
                />
              )}
              <div>
                <Title order={2} fz={18} id="mfa-title">
                  Two-factor sign-in
                </Title>
                <Text size="sm" c="dimmed">
                  {me.user.mfaEnabled
                    ? 'On. Signing in needs your password and a code from your authenticator app.'
                    : 'Off. Anyone who learns your password can sign in as you. Turn it on: it takes a minute.'}
                </Text>
              </div>
            </Group>
            {me.user.mfaEnabled ? (
              <Button variant="default" onClick={() => void replaceCodes()}>
                Get new recovery codes
              </Button>
            ) : !enrolling ? (
              <Button onClick={() => setEnrolling(true)}>Turn on two-factor sign-in</Button>
            ) : null}
          </Group>
          {enrolling ? (
            <div style={{ marginTop: 16 }}>
              <TotpEnrolment
                onCancel={() => setEnrolling(false)}
                onDone={() => {
                  setEnrolling(false);
                  void refresh();
                }}
              />
            </div>
          ) : null}
        </Card>

        <Card withBorder radius="md" p="lg" component="section" aria-labelledby="sessions-title">
          <Group justify="space-between" align="flex-start" wrap="wrap" mb="sm" gap="sm">
            <div>
              <Title order={2} fz={18} id="sessions-title">
                Where you are signed in
              </Title>
              <Text size="sm" c="dimmed">
                If you see a device you do not recognise, sign it out and change your password.
              </Text>
            </div>
            <Button
              variant="default"
              color="red"
              disabled={others === 0}
              onClick={() => void signOutOthers()}
            >
              Sign out other sessions
            </Button>
          </Group>
          <ErrorNotice error={error} />
          {sessions ? (
            <Table.ScrollContainer minWidth={0}>
              <Table verticalSpacing="xs" aria-label="Sessions">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Device</Table.Th>
                    <Table.Th className="hide-xs">From</Table.Th>
                    <Table.Th>Last active</Table.Th>
                    <Table.Th className="hide-sm">Signed in</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {sessions.map((s) => (
                    <Table.Tr key={s.id} data-testid="session-row">
                      <Table.Td>
                        <Group gap={6} wrap="wrap">
                          <Text size="sm">{describeUserAgent(s.userAgent)}</Text>
                          {s.isCurrent ? (
                            <Badge size="sm" variant="light" color="teal">
                              This browser
                            </Badge>
                          ) : null}
                        </Group>
                      </Table.Td>
                      <Table.Td className="hide-xs">
                        <Text size="sm" c="dimmed">
                          {s.ip ?? '—'}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" c="dimmed">
                          {formatRelative(s.lastSeenAt)}
                        </Text>
                      </Table.Td>
                      <Table.Td className="hide-sm">
                        <Text size="sm" c="dimmed">
                          {formatDateTime(s.createdAt)}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          ) : null}
        </Card>

        {me.memberships.length > 0 ? (
          <Card withBorder radius="md" p="lg" component="section">
            <Title order={2} fz={18} mb="xs">
              Organisations
            </Title>
            <Stack gap={4}>
              {me.memberships.map((m) => (
                <Group key={m.tenantId} gap="xs">
                  <Text size="sm">{m.tenantName}</Text>
                  <Badge size="sm" variant="light" color="gray">
                    {ROLE_LABEL[m.role]}
                  </Badge>
                  {m.tenantId === me.tenant?.id ? (
                    <Text size="xs" c="dimmed">
                      (current)
                    </Text>
                  ) : null}
                </Group>
              ))}
            </Stack>
          </Card>
        ) : null}
      </Stack>
      <Modal
        opened={newCodes !== null}
        onClose={() => setNewCodes(null)}
        title="New recovery codes"
        size="lg"
      >
        <Text size="sm">Your old recovery codes no longer work.</Text>
        {newCodes ? <RecoveryCodesPanel codes={newCodes} /> : null}
        <Group justify="flex-end" mt="md">
          <Button onClick={() => setNewCodes(null)}>I have saved them</Button>
        </Group>
      </Modal>
    </>
  );
}
