import {
  Alert,
  Anchor,
  Button,
  Card,
  Loader,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { lazy, Suspense, useState, type FormEvent } from 'react';

const TotpEnrolment = lazy(() =>
  import('../components/TotpEnrolment.tsx').then((m) => ({ default: m.TotpEnrolment })),
);
import { post, rememberCsrf } from '../api.ts';
import { Brand, ErrorNotice, FullPageCentre } from '../components/common.tsx';
import { useSession } from '../session.tsx';

export function SignInPage({ wasSignedIn = false }: { wasSignedIn?: boolean }) {
  const { refresh } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await post<{ csrfToken: string }>('/auth/sign-in', { email, password });
      rememberCsrf(result.csrfToken);
      await refresh();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FullPageCentre>
      <Stack gap="lg">
        <Brand size="lg" />
        <Card withBorder radius="lg" p="xl" shadow="xs">
          <form onSubmit={(e) => void submit(e)}>
            <Stack gap="md">
              <div>
                <Title order={1} fz={22}>
                  Sign in
                </Title>
                <Text c="dimmed" size="sm">
                  Use the e-mail address your organisation invited.
                </Text>
              </div>
              {!error && wasSignedIn ? (
                <Alert color="custodia" variant="light">
                  You have been signed out. Sign in again to continue.
                </Alert>
              ) : null}
              <ErrorNotice error={error} />
              <TextInput
                label="E-mail"
                type="email"
                autoComplete="username"
                required
                value={email}
                onChange={(e) => setEmail(e.currentTarget.value)}
                data-autofocus
                autoFocus
              />
              <PasswordInput
                label="Password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.currentTarget.value)}
              />
              <Button type="submit" loading={busy} fullWidth>
                Sign in
              </Button>
            </Stack>
          </form>
        </Card>
        <Text size="xs" c="dimmed" ta="center">
          Forgot your password or lost your phone? Ask an administrator of your organisation to reset your
          access.
        </Text>
      </Stack>
    </FullPageCentre>
  );
}

/** The second step of sign-in: a code from the authenticator app, or a recovery code. */
export function SecondFactorPage() {
  const { refresh } = useSession();
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [left, setLeft] = useState<number | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await post<{ recoveryCodesLeft: number }>('/auth/second-factor', {
        code: code.replace(/\s+/g, ''),
      });
      if (useRecovery) {
        setLeft(result.recoveryCodesLeft);
        return;
      }
      await refresh();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    await post('/auth/sign-out').catch(() => undefined);
    await refresh();
  };

  if (left !== null) {
    return (
      <FullPageCentre>
        <Stack gap="lg">
          <Brand size="lg" />
          <Card withBorder radius="lg" p="xl" shadow="xs">
            <Stack>
              <Title order={1} fz={22}>
                Signed in with a recovery code
              </Title>
              <Text>
                You have {left} recovery {left === 1 ? 'code' : 'codes'} left.
              </Text>
              <Text size="sm" c="dimmed">
                If you lost your phone, ask an administrator of your organisation to reset your two-factor
                sign-in, then set it up on your new phone. You can get a fresh set of recovery codes on the
                Account page.
              </Text>
              <Button onClick={() => void refresh()}>Continue</Button>
            </Stack>
          </Card>
        </Stack>
      </FullPageCentre>
    );
  }

  return (
    <FullPageCentre>
      <Stack gap="lg">
        <Brand size="lg" />
        <Card withBorder radius="lg" p="xl" shadow="xs">
          <form onSubmit={(e) => void submit(e)}>
            <Stack gap="md">
              <div>
                <Title order={1} fz={22}>
                  Two-factor sign-in
                </Title>
                <Text c="dimmed" size="sm">
                  {useRecovery
                    ? 'Enter one of the recovery codes you saved when you set up two-factor sign-in. Each works once.'
                    : 'Open your authenticator app and enter the 6-digit code for Custodia.'}
                </Text>
              </div>
              <ErrorNotice error={error} />
              <TextInput
                label={useRecovery ? 'Recovery code' : 'Code'}
                inputMode={useRecovery ? 'text' : 'numeric'}
                autoComplete="one-time-code"
                required
                autoFocus
                value={code}
                onChange={(e) => setCode(e.currentTarget.value)}
                maxLength={32}
              />
              <Button type="submit" loading={busy} fullWidth>
                Verify
              </Button>
              <Anchor
                component="button"
                type="button"
                size="sm"
                onClick={() => {
                  setUseRecovery(!useRecovery);
                  setCode('');
                  setError(null);
                }}
              >
                {useRecovery ? 'Use a code from the app instead' : 'Lost your phone? Use a recovery code'}
              </Anchor>
              <Anchor component="button" type="button" size="sm" c="dimmed" onClick={() => void cancel()}>
                Cancel and sign out
              </Anchor>
            </Stack>
          </form>
        </Card>
      </Stack>
    </FullPageCentre>
  );
}

/** The organisation requires two-factor sign-in and this person has none yet: enrol first. */
export function EnrolmentGate() {
  const { refresh, me } = useSession();
  return (
    <FullPageCentre width={560}>
      <Stack gap="lg">
        <Brand size="lg" />
        <Card withBorder radius="lg" p="xl" shadow="xs">
          <Stack>
            <Title order={1} fz={22}>
              Set up two-factor sign-in
            </Title>
            <Text size="sm" c="dimmed">
              {me?.tenant?.name ?? 'Your organisation'} requires a second step at sign-in. It takes a minute:
              you need an authenticator app on your phone (for example Google Authenticator, Microsoft
              Authenticator, 1Password or Aegis).
            </Text>
            <Suspense fallback={<Loader size="sm" aria-label="Loading" />}>
              <TotpEnrolment onDone={() => void refresh()} />
            </Suspense>
            <Anchor
              component="button"
              type="button"
              size="sm"
              c="dimmed"
              onClick={() => void post('/auth/sign-out').finally(() => void refresh())}
            >
              Not now: sign out
            </Anchor>
          </Stack>
        </Card>
      </Stack>
    </FullPageCentre>
  );
}
