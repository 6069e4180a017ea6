import {
  ActionIcon,
  Alert,
  Button,
  CopyButton,
  Group,
  Stack,
  Text,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertCircle, IconCheck, IconCopy } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { messageOf } from '../api.ts';

export function PageHeader({
  title,
  description,
  actions,
}: {
  title: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <Group justify="space-between" align="flex-start" mb="lg" wrap="wrap" gap="sm">
      <Stack gap={4} style={{ minWidth: 0, flex: '1 1 280px' }}>
        <Title order={1} fz={{ base: 22, sm: 26 }} fw={650}>
          {title}
        </Title>
        {description ? (
          <Text c="dimmed" size="sm">
            {description}
          </Text>
        ) : null}
      </Stack>
      {actions ? (
        <Group gap="xs" wrap="wrap">
          {actions}
        </Group>
      ) : null}
    </Group>
  );
}

export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (!error) {
    return null;
  }
  return (
    <Alert color="red" variant="light" icon={<IconAlertCircle size={18} />} title={title} role="alert">
      {messageOf(error)}
    </Alert>
  );
}

/** A read-only field with a copy button: links and secrets shown once. */
export function CopyField({
  value,
  label,
  description,
}: {
  value: string;
  label: string;
  description?: string;
}) {
  return (
    <TextInput
      label={label}
      description={description}
      value={value}
      readOnly
      onFocus={(e) => e.currentTarget.select()}
      styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13 } }}
      rightSectionWidth={44}
      rightSection={
        <CopyButton value={value} timeout={2000}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy'} withArrow>
              <ActionIcon
                variant="subtle"
                color={copied ? 'teal' : 'gray'}
                onClick={copy}
                aria-label={`Copy ${label.toLowerCase()}`}
              >
                {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      }
    />
  );
}

export function notifyDone(message: string): void {
  notifications.show({ message, color: 'teal', icon: <IconCheck size={16} />, autoClose: 3500 });
}

export function notifyError(error: unknown, title = 'That did not work'): void {
  notifications.show({ title, message: messageOf(error), color: 'red', autoClose: 8000 });
}

/** Runs an action and reports failure as a notification; returns whether it succeeded. */
export async function attempt(action: () => Promise<unknown>, done?: string): Promise<boolean> {
  try {
    await action();
    if (done) {
      notifyDone(done);
    }
    return true;
  } catch (error) {
    notifyError(error);
    return false;
  }
}

export function EmptyState({
  icon,
  title,
  children,
}: {
  icon: ReactNode;
  title: string;
  children?: ReactNode;
}) {
  return (
    <Stack align="center" gap={6} py={48} px="md" ta="center">
      <Text c="dimmed" aria-hidden>
        {icon}
      </Text>
      <Text fw={600}>{title}</Text>
      {children ? (
        <Text c="dimmed" size="sm" maw={420}>
          {children}
        </Text>
      ) : null}
    </Stack>
  );
}

export function FullPageCentre({ children, width = 420 }: { children: ReactNode; width?: number }) {
  return (
    <div className="centre-page">
      <div style={{ width: '100%', maxWidth: width }}>{children}</div>
    </div>
  );
}

export function Brand({ size = 'md' }: { size?: 'md' | 'lg' }) {
  const px = size === 'lg' ? 34 : 26;
  return (
    <Group gap={8} wrap="nowrap">
      <img src="/favicon.svg" width={px} height={px} alt="" />
      <Text
        fw={700}
        fz={size === 'lg' ? 22 : 18}
        c="var(--mantine-color-text)"
        style={{ letterSpacing: -0.3 }}
      >
        Custodia
      </Text>
    </Group>
  );
}

export function SubmitRow({ children }: { children: ReactNode }) {
  return (
    <Group justify="flex-end" mt="md" gap="sm">
      {children}
    </Group>
  );
}

export { Button };
