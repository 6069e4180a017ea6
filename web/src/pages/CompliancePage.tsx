import { Badge, Card, Group, List, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import {
  IconAlertTriangle,
  IconClipboardList,
  IconFileSearch,
  IconHistory,
  IconHourglass,
  IconLock,
} from '@tabler/icons-react';
import { useEffect, useState, type ReactNode } from 'react';
import { get, type Member, type TenantSettings } from '../api.ts';
import { AuditRetentionCard } from '../components/AuditRetentionCard.tsx';
import { PageHeader } from '../components/common.tsx';
import { Link } from '../router.tsx';
import { abilities, useSession } from '../session.tsx';

/**
 * The compliance centre: one place per duty. Each section says what Custodia does today and, where
 * a screen does not exist yet, says so plainly. Nothing here is a mock-up.
 */
export function CompliancePage() {
  const { me } = useSession();
  const can = abilities(me);
  const [settings, setSettings] = useState<TenantSettings | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  useEffect(() => {
    get<TenantSettings>('/tenant')
      .then(setSettings)
      .catch(() => setSettings(null));
    get<{ items: Member[] }>('/members')
      .then((r) => setMembers(r.items))
      .catch(() => setMembers(null));
  }, []);
  const withoutMfa = members?.filter((m) => !m.mfaEnabled) ?? [];

  return (
    <>
      <PageHeader
        title="Compliance centre"
        description="What Custodia does for your POPIA and GDPR duties today, and what is still to come."
      />
      <Card withBorder radius="md" p="lg" mb="lg">
        <Group gap="sm" align="flex-start" wrap="nowrap">
          <IconLock size={26} color="var(--mantine-color-teal-7)" style={{ flexShrink: 0 }} />
          <div>
            <Title order={2} fz={18}>
              Security of processing
            </Title>
            <Text size="sm" c="dimmed" mb="sm">
              POPIA section 19 / GDPR article 32.
            </Text>
            <List size="sm" spacing={4}>
              <List.Item>
                Every file version is encrypted at rest with its own key under your organisation's key.
              </List.Item>
              <List.Item>
                Two-factor sign-in is{' '}
                <b>{settings ? (settings.requireMfa ? 'required for everyone' : 'optional') : '…'}</b>
                {members ? (
                  <>
                    ;{' '}
                    {withoutMfa.length === 0
                      ? 'every member has it on'
                      : `${withoutMfa.length} of ${members.length} members have not turned it on yet`}
                  </>
                ) : null}
                .{' '}
                {can.canAdmin ? (
                  <Link to="/organisation?tab=settings" fz="inherit">
                    Change the policy
                  </Link>
                ) : null}
              </List.Item>
              <List.Item>
                Alerts for many downloads by one account, repeated failed sign-ins, work from outside your IP
                ranges and share links passed around, by signed webhook or e-mail.{' '}
                <Link to="/alerts" fz="inherit">
                  Set up alerts
                </Link>
              </List.Item>
              <List.Item>
                Guests see only the folders given to them; share links can carry a password, an end date and a
                download limit.
              </List.Item>
            </List>
          </div>
        </Group>
      </Card>
      {can.canCompliance ? <AuditRetentionCard /> : null}
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
        <Section
          icon={<IconHistory size={24} />}
          title="Activity log"
          status="Recording"
          statusColor="teal"
          now={[
            'Sign-ins, uploads, downloads, shares, share-link downloads, deletions, member and setting changes are recorded as they happen, with who, when and from where.',
            'The log is append-only and hash-chained, so a changed or removed entry shows.',
          ]}
          later="Filter it by file, person, IP address, action or period; export it as CSV or JSON; print a report cut at its latest signed checkpoint."
          action={<Link to="/activity">Open the activity log</Link>}
        />
        <Section
          icon={<IconFileSearch size={24} />}
          title="Data-subject requests"
          status="Not yet available"
          statusColor="gray"
          now={['You can find files by name in each folder and download or delete them.']}
          later="Coming with the data-subject requests release: log a request, find every file that mentions the person, act on it within the legal deadline, and keep the proof."
        />
        <Section
          icon={<IconHourglass size={24} />}
          title="Retention and holds"
          status="Partly available"
          statusColor="yellow"
          now={[
            settings
              ? `Custodia keeps the ${settings.keepVersions} most recent versions of each file.`
              : 'Custodia keeps a set number of versions of each file.',
            'Deleted items stay in the trash until someone restores them or deletes them for good.',
          ]}
          later="Retention policies per kind of record, statutory minimums and legal holds are coming with the retention release."
        />
        <Section
          icon={<IconAlertTriangle size={24} />}
          title="Incidents"
          status="Not yet available"
          statusColor="gray"
          now={[]}
          later="Coming with the incidents release: record a suspected compromise, see the 72-hour clock and prepare the notifications to the regulator and the people affected."
        />
        <Section
          icon={<IconClipboardList size={24} />}
          title="Records of processing"
          status="Not yet available"
          statusColor="gray"
          now={[]}
          later="Coming with the records-of-processing release: your GDPR article 30 record, with the sub-processors your provider uses."
        />
      </SimpleGrid>
    </>
  );
}

function Section({
  icon,
  title,
  status,
  statusColor,
  now,
  later,
  action,
}: {
  icon: ReactNode;
  title: string;
  status: string;
  statusColor: string;
  now: string[];
  later: string;
  action?: ReactNode;
}) {
  return (
    <Card withBorder radius="md" p="lg" component="section" aria-label={title}>
      <Stack gap="sm">
        <Group justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Text c="custodia.7" aria-hidden style={{ display: 'flex' }}>
              {icon}
            </Text>
            <Title order={2} fz={17}>
              {title}
            </Title>
          </Group>
          <Badge color={statusColor} variant="light" style={{ flexShrink: 0 }}>
            {status}
          </Badge>
        </Group>
        {now.length > 0 ? (
          <div>
            <Text size="xs" fw={600} tt="uppercase" c="dimmed" mb={4}>
              Today
            </Text>
            <List size="sm" spacing={4}>
              {now.map((n) => (
                <List.Item key={n}>{n}</List.Item>
              ))}
            </List>
          </div>
        ) : null}
        <Text size="sm" c="dimmed">
          {later}
        </Text>
        {action ? <Text size="sm">{action}</Text> : null}
      </Stack>
    </Card>
  );
}
