import { Alert, Button, Card, Loader, Stack, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useState, type FormEvent } from 'react';
import { get, post, rememberCsrf } from '../api.ts';
import { Brand, ErrorNotice, FullPageCentre } from '../components/common.tsx';
import {
  EMPTY_NEW_PASSWORD,
  NewPasswordFields,
  newPasswordProblem,
} from '../components/NewPasswordFields.tsx';
import { navigate } from '../router.tsx';
import { useSession } from '../session.tsx';

/** First run: the one-time link printed by `npm start` creates the operator admin. */
export function SetupPage() {
  const { refresh } = useSession();
  const [token] = useState(() => decodeURIComponent(window.location.hash.replace(/^#/, '')));
  const [pending, setPending] = useState<boolean | null>(null);
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [newPassword, setNewPassword] = useState(EMPTY_NEW_PASSWORD);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get<{ setupPending: boolean }>('/setup')
      .then((s) => setPending(s.setupPending))
      .catch((e: unknown) => {
        setError(e);
        setPending(true);
      });
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problem = newPasswordProblem(newPassword);
    if (problem) {
      setError(problem);
      return;
    }
    const { password } = newPassword;
    setBusy(true);
    setError(null);
    try {
      await post('/setup', { setupToken: token, email, displayName: name, password });
      const signedIn = await post<{ csrfToken: string }>('/auth/sign-in', { email, password });
      rememberCsrf(signedIn.csrfToken);
      await refresh();
      navigate('/account?welcome=1', { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FullPageCentre width={480}>
      <Stack gap="lg">
        <Brand size="lg" />
        <Card withBorder radius="lg" p="xl" shadow="xs">
          {pending === null ? (
            <Loader aria-label="Loading" />
          ) : !pending ? (
            <Stack>
              <Title order={1} fz={22}>
                Setup is already done
              </Title>
              <Text>This installation has an operator admin. Sign in instead.</Text>
              <Button onClick={() => navigate('/')}>Go to sign-in</Button>
            </Stack>
          ) : (
            <form onSubmit={(e) => void submit(e)}>
              <Stack gap="md">
                <div>
                  <Title order={1} fz={22}>
                    Welcome to Custodia
                  </Title>
                  <Text c="dimmed" size="sm">
                    Create the operator admin: the person who runs this installation, creates organisations
                    and invites their owners.
                  </Text>
                </div>
                {!token ? (
                  <Alert color="orange" variant="light" title="The setup link is incomplete">
                    Open the full link that `npm start` printed in the terminal (it ends with #setup_…), or
                    run `npm run custodia -- setup` on the server.
                  </Alert>
                ) : null}
                <ErrorNotice error={error} />
                <TextInput
                  label="Your e-mail"
                  type="email"
                  autoComplete="email"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.currentTarget.value)}
                />
                <TextInput
                  label="Your name"
                  autoComplete="name"
                  required
                  value={name}
                  onChange={(e) => setName(e.currentTarget.value)}
                />
                <NewPasswordFields label="Password" value={newPassword} onChange={setNewPassword} />
                <Button type="submit" loading={busy} disabled={!token}>
                  Create operator admin
                </Button>
              </Stack>
            </form>
          )}
        </Card>
      </Stack>
    </FullPageCentre>
  );
}
