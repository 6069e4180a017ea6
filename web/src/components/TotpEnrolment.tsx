import { Alert, Button, Checkbox, Code, Group, Image, Stack, Stepper, Text, TextInput } from '@mantine/core';
import QRCode from 'qrcode';
import { useState, type FormEvent } from 'react';
import { post } from '../api.ts';
import { ErrorNotice } from './common.tsx';

/**
 * Enrols an authenticator app: the QR code is drawn here in the browser (the secret never leaves
 * this page), then a code proves the app works, then the recovery codes are shown exactly once.
 */
export function TotpEnrolment({ onDone, onCancel }: { onDone: () => void; onCancel?: () => void }) {
  const [step, setStep] = useState(0);
  const [secret, setSecret] = useState('');
  const [qr, setQr] = useState('');
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[]>([]);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const begin = async () => {
    setBusy(true);
    setError(null);
    try {
      const enrolment = await post<{ secret: string; otpauthUrl: string }>('/me/mfa/enroll');
      setSecret(enrolment.secret);
      setQr(
        await QRCode.toDataURL(enrolment.otpauthUrl, { margin: 1, width: 220, errorCorrectionLevel: 'M' }),
      );
      setStep(1);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const confirm = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await post<{ recoveryCodes: string[] }>('/me/mfa/confirm', {
        code: code.replace(/\s+/g, ''),
      });
      setCodes(result.recoveryCodes);
      setStep(2);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack>
      <Stepper active={step} size="sm" allowNextStepsSelect={false}>
        <Stepper.Step label="Start" description="Get a code">
          <Stack mt="md">
            <Text size="sm">
              We will show a QR code. Scan it with your authenticator app, then type the 6-digit code it
              shows.
            </Text>
            <ErrorNotice error={error} />
            <Group>
              <Button onClick={() => void begin()} loading={busy}>
                Show the QR code
              </Button>
              {onCancel ? (
                <Button variant="default" onClick={onCancel}>
                  Cancel
                </Button>
              ) : null}
            </Group>
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Scan" description="Confirm the app">
          <form onSubmit={(e) => void confirm(e)}>
            <Stack mt="md">
              <Group align="flex-start" gap="lg" wrap="wrap">
                <Image src={qr} w={200} h={200} alt="QR code to add Custodia to your authenticator app" />
                <Stack gap={6} style={{ flex: '1 1 220px' }}>
                  <Text size="sm">Can't scan? Enter this key in the app by hand:</Text>
                  <Code data-testid="totp-secret" style={{ wordBreak: 'break-all', fontSize: 14 }}>
                    {secret}
                  </Code>
                  <Text size="xs" c="dimmed">
                    Time-based, 6 digits, every 30 seconds.
                  </Text>
                </Stack>
              </Group>
              <ErrorNotice error={error} />
              <TextInput
                label="6-digit code from the app"
                inputMode="numeric"
                autoComplete="one-time-code"
                required
                value={code}
                onChange={(e) => setCode(e.currentTarget.value)}
                maxLength={10}
                w={240}
              />
              <Group>
                <Button type="submit" loading={busy}>
                  Turn on two-factor sign-in
                </Button>
                {onCancel ? (
                  <Button variant="default" onClick={onCancel}>
                    Cancel
                  </Button>
                ) : null}
              </Group>
            </Stack>
          </form>
        </Stepper.Step>
        <Stepper.Step label="Save" description="Recovery codes">
          <RecoveryCodesPanel codes={codes} />
          <Checkbox
            mt="md"
            label="I have saved these codes somewhere safe"
            checked={saved}
            onChange={(e) => setSaved(e.currentTarget.checked)}
          />
          <Button mt="md" disabled={!saved} onClick={onDone}>
            Done
          </Button>
        </Stepper.Step>
      </Stepper>
    </Stack>
  );
}

export function RecoveryCodesPanel({ codes }: { codes: string[] }) {
  const download = () => {
    const blob = new Blob([`Custodia recovery codes (each works once)\n\n${codes.join('\n')}\n`], {
      type: 'text/plain',
    });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = 'custodia-recovery-codes.txt';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <Stack mt="md" gap="sm">
      <Alert color="orange" variant="light" title="Shown only this once">
        If you lose your phone, each of these codes lets you sign in once. Print them or keep them in your
        password manager. Nobody, not even an administrator, can show them to you again.
      </Alert>
      <div className="recovery-codes" data-testid="recovery-codes">
        {codes.map((c) => (
          <span key={c}>{c}</span>
        ))}
      </div>
      <Group>
        <Button variant="default" size="xs" onClick={download}>
          Download as a text file
        </Button>
        <Button
          variant="default"
          size="xs"
          onClick={() => void navigator.clipboard?.writeText(codes.join('\n'))}
        >
          Copy
        </Button>
      </Group>
    </Stack>
  );
}
