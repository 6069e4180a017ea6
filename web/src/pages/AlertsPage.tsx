import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Modal,
  Stack,
  Switch,
  Table,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { IconBell, IconBellCheck, IconDots, IconPlus } from '@tabler/icons-react';
import { useCallback, useEffect, useState } from 'react';
import { del, get, patch, post } from '../api.ts';
import {
  attempt,
  CopyField,
  EmptyState,
  ErrorNotice,
  notifyDone,
  notifyError,
  PageHeader,
  SubmitRow,
} from '../components/common.tsx';
import { formatDateTime } from '../format.ts';
import { AllowedIpRanges } from '../components/AllowedIpRanges.tsx';
import { KIND_LABEL, RuleModal, type Kind, type Rule, type RuleList } from '../components/AlertRuleModal.tsx';

interface Delivery {
  id: string;
  channel: 'webhook' | 'email';
  target: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
}

interface FiredAlert {
  id: string;
  ruleName: string;
  kind: Kind;
  summary: string;
  firedAt: number;
  acknowledgedAt: number | null;
  deliveries: Delivery[];
}

/**
 * Alerts: what has fired (with how each delivery went, and acknowledging it), the rules that decide
 * it, and the address ranges members are expected to work from.
 */
export function AlertsPage() {
  const [rules, setRules] = useState<RuleList | null>(null);
  const [alerts, setAlerts] = useState<FiredAlert[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const [secret, setSecret] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [ruleList, alertList] = await Promise.all([
        get<RuleList>('/alert-rules'),
        get<{ items: FiredAlert[] }>('/alerts'),
      ]);
      setRules(ruleList);
      setAlerts(alertList.items);
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const acknowledge = async (id: string) => {
    if (await attempt(() => post(`/alerts/${id}/acknowledge`), 'Alert acknowledged')) {
      await load();
    }
  };

  const toggle = async (rule: Rule) => {
    await attempt(() => patch(`/alert-rules/${rule.id}`, { enabled: !rule.enabled }));
    await load();
  };

  const test = async (rule: Rule) => {
    try {
      const { results } = await post<{
        results: Array<{ channel: string; delivered: boolean; error?: string }>;
      }>(`/alert-rules/${rule.id}/test`);
      if (results.length === 0) {
        notifyDone('This rule has no webhook or e-mail to test.');
        return;
      }
      const failed = results.filter((r) => !r.delivered);
      if (failed.length === 0) {
        notifyDone(
          `Test sent by ${results.map((r) => (r.channel === 'email' ? 'e-mail' : 'webhook')).join(' and ')}.`,
        );
      } else {
        notifyError(
          new Error(failed.map((f) => `${f.channel}: ${f.error ?? 'failed'}`).join('; ')),
          'The test alert did not arrive',
        );
      }
    } catch (caught) {
      notifyError(caught);
    }
  };

  const rotate = async (rule: Rule) => {
    try {
      const result = await post<{ webhookSecret: string }>(`/alert-rules/${rule.id}/rotate-secret`);
      setSecret(result.webhookSecret);
    } catch (caught) {
      notifyError(caught);
    }
  };

  const remove = async (rule: Rule) => {
    if (await attempt(() => del(`/alert-rules/${rule.id}`), `Rule "${rule.name}" deleted`)) {
      await load();
    }
  };

  return (
    <>
      <PageHeader
        title="Alerts"
        description="Be told when something unusual happens: many downloads by one account, repeated failed sign-ins, work from outside your networks, or a share link passed around. Alerts go to a webhook (signed) or by e-mail."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} disabled={!rules}>
            New rule
          </Button>
        }
      />
      <ErrorNotice error={error} title="Alerts could not be loaded" />
      <Stack gap="lg">
        <Card withBorder radius="md" p="lg" component="section" aria-labelledby="fired-title">
          <Title order={2} fz={18} id="fired-title" mb="sm">
            Fired alerts
          </Title>
          {alerts && alerts.length === 0 ? (
            <EmptyState icon={<IconBellCheck size={32} />} title="No alerts have fired">
              When a rule's condition is met, the alert shows here with where it was sent.
            </EmptyState>
          ) : (
            <Table.ScrollContainer minWidth={640}>
              <Table verticalSpacing="sm" aria-label="Fired alerts">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>When</Table.Th>
                    <Table.Th>What happened</Table.Th>
                    <Table.Th>Sent to</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {(alerts ?? []).map((alert) => (
                    <Table.Tr key={alert.id} data-testid="fired-alert">
                      <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatDateTime(alert.firedAt)}</Table.Td>
                      <Table.Td>
                        <Text size="sm" fw={500}>
                          {alert.summary}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {alert.ruleName}
                        </Text>
                      </Table.Td>
                      <Table.Td style={{ minWidth: 190 }}>
                        <Group gap={6}>
                          {alert.deliveries.length === 0 ? (
                            <Text size="sm" c="dimmed">
                              Only listed here
                            </Text>
                          ) : (
                            alert.deliveries.map((d) => <DeliveryBadge key={d.id} delivery={d} />)
                          )}
                        </Group>
                      </Table.Td>
                      <Table.Td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>
                        {alert.acknowledgedAt ? (
                          <Text size="sm" c="dimmed">
                            Acknowledged {formatDateTime(alert.acknowledgedAt)}
                          </Text>
                        ) : (
                          <Button size="xs" variant="light" onClick={() => void acknowledge(alert.id)}>
                            Acknowledge
                          </Button>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Card>

        <Card withBorder radius="md" p="lg" component="section" aria-labelledby="rules-title">
          <Title order={2} fz={18} id="rules-title" mb="sm">
            Rules
          </Title>
          {rules && rules.items.length === 0 ? (
            <EmptyState icon={<IconBell size={32} />} title="No alert rules yet">
              Press “New rule” to choose what to watch for; sensible thresholds are filled in for you.
            </EmptyState>
          ) : (
            <Table.ScrollContainer minWidth={640}>
              <Table verticalSpacing="sm" aria-label="Alert rules">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Rule</Table.Th>
                    <Table.Th>Fires when</Table.Th>
                    <Table.Th>Sends to</Table.Th>
                    <Table.Th>On</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {(rules?.items ?? []).map((rule) => (
                    <Table.Tr key={rule.id}>
                      <Table.Td>
                        <Text size="sm" fw={500}>
                          {rule.name}
                        </Text>
                        {rule.name === KIND_LABEL[rule.kind] ? null : (
                          <Text size="xs" c="dimmed">
                            {KIND_LABEL[rule.kind]}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{condition(rule)}</Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{destinations(rule)}</Text>
                      </Table.Td>
                      <Table.Td>
                        <Switch
                          checked={rule.enabled}
                          onChange={() => void toggle(rule)}
                          aria-label={`${rule.enabled ? 'Turn off' : 'Turn on'} ${rule.name}`}
                        />
                      </Table.Td>
                      <Table.Td style={{ textAlign: 'right' }}>
                        <Menu position="bottom-end" withinPortal>
                          <Menu.Target>
                            <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${rule.name}`}>
                              <IconDots size={18} />
                            </ActionIcon>
                          </Menu.Target>
                          <Menu.Dropdown>
                            <Menu.Item onClick={() => setEditing(rule)}>Edit</Menu.Item>
                            <Menu.Item onClick={() => void test(rule)}>Send a test alert</Menu.Item>
                            {rule.webhookUrl ? (
                              <Menu.Item onClick={() => void rotate(rule)}>New webhook secret</Menu.Item>
                            ) : null}
                            <Menu.Divider />
                            <Menu.Item color="red" onClick={() => void remove(rule)}>
                              Delete
                            </Menu.Item>
                          </Menu.Dropdown>
                        </Menu>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Card>

        <AllowedIpRanges />
      </Stack>

      {rules && editing ? (
        <RuleModal
          rules={rules}
          rule={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={async (newSecret) => {
            setEditing(null);
            if (newSecret) {
              setSecret(newSecret);
            }
            await load();
          }}
        />
      ) : null}
      <Modal opened={secret !== null} onClose={() => setSecret(null)} title="Webhook signing secret">
        <Stack>
          <Text size="sm">
            Your receiver checks each alert's <code>Custodia-Signature</code> header with this secret. It is
            shown only now: copy it into your receiver's settings.
          </Text>
          <CopyField label="Secret" value={secret ?? ''} />
          <SubmitRow>
            <Button onClick={() => setSecret(null)}>I have stored it</Button>
          </SubmitRow>
        </Stack>
      </Modal>
    </>
  );
}

function DeliveryBadge({ delivery }: { delivery: Delivery }) {
  const channel = delivery.channel === 'email' ? 'E-mail' : 'Webhook';
  const [label, color] =
    delivery.status === 'delivered'
      ? ['delivered', 'teal']
      : delivery.status === 'failed'
        ? ['failed', 'red']
        : delivery.attempts === 0
          ? ['queued', 'gray']
          : ['retrying', 'yellow'];
  const detail = [
    delivery.target,
    `${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}`,
    delivery.lastError ? `last error: ${delivery.lastError}` : null,
    delivery.status === 'pending' && delivery.nextAttemptAt
      ? `next try ${formatDateTime(delivery.nextAttemptAt)}`
      : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <Tooltip label={detail} multiline maw={360} withArrow>
      <Badge color={color} variant="light" style={{ textTransform: 'none' }} tabIndex={0}>
        {channel}: {label}
      </Badge>
    </Tooltip>
  );
}

function condition(rule: Rule): string {
  const window = formatWindow(rule.windowSeconds);
  switch (rule.kind) {
    case 'bulk_download':
      return `One account reads more than ${plural(rule.threshold, 'file')} within ${window}`;
    case 'sign_in_failures':
      return `${plural(rule.threshold, 'failed sign-in')} for one account or from one address within ${window}`;
    case 'outside_ip_ranges':
      return `A member works from outside the allowed ranges (again after ${window} quiet)`;
    case 'share_link_many_ips':
      return `One share link is used from ${plural(rule.threshold, 'address', 'addresses')} within ${window}`;
  }
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function destinations(rule: Rule): string {
  const parts = [
    rule.webhookUrl ? `Webhook ${hostOf(rule.webhookUrl)}` : null,
    rule.emailTo.length > 0 ? rule.emailTo.join(', ') : null,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' · ') : 'Only listed here';
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function formatWindow(seconds: number): string {
  if (seconds % 3600 === 0) {
    return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  }
  if (seconds % 60 === 0) {
    return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  }
  return `${seconds} seconds`;
}
