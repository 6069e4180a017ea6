import { Alert, Badge, Button, Card, Group, NumberInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { get, post, put } from '../api.ts';
import { ErrorNotice, notifyDone, notifyError } from './common.tsx';

interface TelemetryPolicy {
  retentionDays: number;
  minRetentionDays: number;
  maxRetentionDays: number;
  forensicHold: { since: number; reason: string } | null;
}

interface Verification {
  isValid: boolean;
  entries: number;
  lastSeq: number;
  lastCheckpoint?: { seq: number; createdAt: number; keyId: string };
  firstProblem?: { seq: number; problem: string; detail: string };
}

/**
 * The activity log's integrity and telemetry retention, for owners, admins and compliance officers:
 * verify the hash chain now, choose how long addresses are kept (30–90 days), place or lift a
 * forensic hold. See docs/AUDIT.md.
 */
export function AuditRetentionCard() {
  const [policy, setPolicy] = useState<TelemetryPolicy | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [days, setDays] = useState<number | string>('');
  const [reason, setReason] = useState('');
  const [verification, setVerification] = useState<Verification | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  useEffect(() => {
    get<TelemetryPolicy>('/audit/telemetry-policy')
      .then((p) => {
        setPolicy(p);
        setDays(p.retentionDays);
      })
      .catch(setLoadError);
  }, []);

  async function act(name: string, work: () => Promise<void>) {
    setBusy(name);
    try {
      await work();
    } catch (error) {
      notifyError(error);
    } finally {
      setBusy(null);
    }
  }

  const verify = () => act('verify', async () => setVerification(await get<Verification>('/audit/verify')));
  const saveDays = () =>
    act('days', async () => {
      setPolicy(await put<TelemetryPolicy>('/audit/telemetry-policy', { retentionDays: Number(days) }));
      notifyDone('Retention saved');
    });
  const toggleHold = () =>
    act('hold', async () => {
      const path = policy?.forensicHold ? '/audit/forensic-hold/lift' : '/audit/forensic-hold';
      setPolicy(await post<TelemetryPolicy>(path, { reason }));
      setReason('');
    });

  return (
    <Card
      withBorder
      radius="md"
      p="lg"
      mb="lg"
      component="section"
      aria-label="Activity log integrity and retention"
    >
      <Stack gap="sm">
        <Title order={2} fz={18}>
          Activity log integrity
        </Title>
        <Text size="sm" c="dimmed">
          Every entry is hash-chained and pinned by signed checkpoints: editing, deleting or reordering any
          entry shows when the log is verified.
        </Text>
        <Group>
          <Button onClick={verify} loading={busy === 'verify'}>
            Verify the log
          </Button>
        </Group>
        {verification && (
          <Alert
            color={verification.isValid ? 'green' : 'red'}
            role="status"
            title={verification.isValid ? 'The log verifies' : 'The log does not verify'}
          >
            {verification.isValid
              ? `${verification.entries} entries checked.`
              : `First bad entry: #${verification.firstProblem?.seq} (${verification.firstProblem?.detail}).`}{' '}
            {verification.lastCheckpoint
              ? `Signed checkpoint reached: entry #${verification.lastCheckpoint.seq}, ${new Date(verification.lastCheckpoint.createdAt).toLocaleString()} (key ${verification.lastCheckpoint.keyId}).`
              : 'No signed checkpoint yet.'}
          </Alert>
        )}
        {loadError ? <ErrorNotice error={loadError} /> : null}
        {policy && (
          <>
            <Title order={3} fz={16} mt="sm">
              Addresses and browsers in the log
            </Title>
            <Text size="sm" c="dimmed">
              IP addresses and browser names are personal data, so they are erased from the log after the
              period you choose ({policy.minRetentionDays}–{policy.maxRetentionDays} days). The rest of each
              entry stays, and the log still verifies. A forensic hold keeps them for an investigation.
            </Text>
            <Group align="flex-end">
              <NumberInput
                label="Keep them for"
                suffix=" days"
                min={policy.minRetentionDays}
                max={policy.maxRetentionDays}
                value={days}
                onChange={setDays}
                w={200}
              />
              <Button variant="default" onClick={saveDays} loading={busy === 'days'}>
                Save
              </Button>
            </Group>
            <Group gap="xs">
              <Text size="sm">Forensic hold:</Text>
              {policy.forensicHold ? (
                <Badge color="orange">
                  since {new Date(policy.forensicHold.since).toLocaleDateString()}:{' '}
                  {policy.forensicHold.reason}
                </Badge>
              ) : (
                <Badge color="gray">none</Badge>
              )}
            </Group>
            <Group align="flex-end">
              <TextInput
                label={policy.forensicHold ? 'Why lift the hold' : 'Why place a hold (kept in the log)'}
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
                w={320}
              />
              <Button
                variant="default"
                onClick={toggleHold}
                disabled={reason.trim() === ''}
                loading={busy === 'hold'}
              >
                {policy.forensicHold ? 'Lift the hold' : 'Place a hold'}
              </Button>
            </Group>
          </>
        )}
      </Stack>
    </Card>
  );
}
