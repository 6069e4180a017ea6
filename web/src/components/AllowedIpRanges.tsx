import { Button, Card, Group, Stack, Text, Textarea, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { get, put } from '../api.ts';
import { ErrorNotice, notifyDone } from './common.tsx';

/** The organisation's allowed IP ranges, one CIDR per line; used by the outside_ip_ranges rule. */
export function AllowedIpRanges() {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ ranges: string[] }>('/tenant/allowed-ip-ranges')
      .then((r) => setText(r.ranges.join('\n')))
      .catch(setError);
  }, []);

  const save = async () => {
    setError(null);
    try {
      const ranges = (text ?? '')
        .split(/[\s,]+/)
        .map((r) => r.trim())
        .filter(Boolean);
      const saved = await put<{ ranges: string[] }>('/tenant/allowed-ip-ranges', { ranges });
      setText(saved.ranges.join('\n'));
      notifyDone(saved.ranges.length > 0 ? 'Allowed IP ranges saved' : 'Members may work from anywhere');
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <Card withBorder radius="md" p="lg" component="section" aria-labelledby="ranges-title">
      <Title order={2} fz={18} id="ranges-title" mb={4}>
        Allowed IP ranges
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        Where members are expected to work from, one range per line (CIDR, IPv4 or IPv6, e.g. 192.0.2.0/24 or
        2001:db8::/32). The rule “Activity from outside the allowed IP ranges” reports anything else. Leave
        empty for anywhere.
      </Text>
      <Stack gap="sm" maw={520}>
        <Textarea
          label="Ranges"
          autosize
          minRows={3}
          value={text ?? ''}
          onChange={(e) => setText(e.currentTarget.value)}
          disabled={text === null}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
        <ErrorNotice error={error} title="The ranges were not saved" />
        <Group>
          <Button variant="light" onClick={() => void save()} disabled={text === null}>
            Save ranges
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}
