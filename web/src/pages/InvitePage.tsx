import { Button, Card, Loader, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useState, type FormEvent } from 'react';
import { get, post, rememberCsrf, ROLE_LABEL, type Role } from '../api.ts';
import { Brand, ErrorNotice, FullPageCentre } from '../components/common.tsx';
import {
  EMPTY_NEW_PASSWORD,
  NewPasswordFields,
  newPasswordProblem,
} from '../components/NewPasswordFields.tsx';
import { navigate } from '../router.tsx';
import { useSession } from '../session.tsx';

interface InvitationInfo {
  email: string;
  role: string;
  tenantName: string | null;
  hasAccount: boolean;
}

/** Accepting an invitation: new people choose a name and password; existing accounts confirm theirs. */
export function InvitePage() {
  const { refresh } = useSession();
  const [token] = useState(() => decodeURIComponent(window.location.hash.replace(/^#/, '')));
  const [info, setInfo] = useState<InvitationInfo | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [name, setName] = useState('');
  // An existing account confirms its current password in `password`; a new one chooses it twice.
  const [newPassword, setNewPassword] = useState(EMPTY_NEW_PASSWORD);
  const password = newPassword.password;
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!token) {
      setLoadError(
        new Error('This invitation link is incomplete. Open the whole link from your invitation.'),
      );
      return;
    }
    get<InvitationInfo>(`/invitations?token=${encodeURIComponent(token)}`)
      .then(setInfo)
      .catch(setLoadError);
  }, [token]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!info) {
      return;
    }
    const problem = info.hasAccount ? null : newPasswordProblem(newPassword);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post('/invitations/accept', {
        token,
        password,
        ...(info.hasAccount ? {} : { displayName: name }),
      });
      const signedIn = await post<{ csrfToken: string }>('/auth/sign-in', { email: info.email, password });
      rememberCsrf(signedIn.csrfToken);
      window.history.replaceState(null, '', '/');
      await refresh();
      navigate('/', { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const roleLabel = info
    ? (ROLE_LABEL[info.role as Role] ?? (info.role === 'operator' ? 'Operator admin' : info.role))
    : '';

  return (
    <FullPageCentre width={480}>
      <Stack gap="lg">
        <Brand size="lg" />
        <Card withBorder radius="lg" p="xl" shadow="xs">
          {loadError ? (
            <Stack>
              <Title order={1} fz={22}>
                This invitation cannot be used
              </Title>
              <ErrorNotice error={loadError} />
              <Text size="sm" c="dimmed">
                Ask the person who invited you to send a new invitation.
              </Text>
              <Button variant="default" onClick={() => navigate('/')}>
                Go to sign-in
              </Button>
            </Stack>
          ) : !info ? (
            <Loader aria-label="Loading" />
          ) : (
            <form onSubmit={(e) => void submit(e)}>
              <Stack gap="md">
                <div>
                  <Title order={1} fz={22}>
                    {info.tenantName ? `Join ${info.tenantName}` : 'Join Custodia'}
                  </Title>
                  <Text c="dimmed" size="sm">
                    You are invited as <b>{roleLabel}</b> with {info.email}.
                  </Text>
                </div>
                <ErrorNotice error={error} />
                {info.hasAccount ? (
                  <PasswordInput
                    label="Your Custodia password"
                    description="You already have an account: confirm it is you."
                    autoComplete="current-password"
                    required
                    value={password}
                    onChange={(e) => setNewPassword({ password: e.currentTarget.value, repeat: '' })}
                  />
                ) : (
                  <>
                    <TextInput
                      label="Your name"
                      description="Shown to your colleagues next to files you change."
                      autoComplete="name"
                      required
                      value={name}
                      onChange={(e) => setName(e.currentTarget.value)}
                    />
                    <NewPasswordFields
                      description="At least 12 characters."
                      value={newPassword}
                      onChange={setNewPassword}
                    />
                  </>
                )}
                <Button type="submit" loading={busy}>
                  Accept invitation
                </Button>
              </Stack>
            </form>
          )}
        </Card>
      </Stack>
    </FullPageCentre>
  );
}
