import { PasswordInput } from '@mantine/core';

export interface NewPassword {
  password: string;
  repeat: string;
}

export const EMPTY_NEW_PASSWORD: NewPassword = { password: '', repeat: '' };

/** The error to show when the two typed passwords differ, or null when they match. */
export function newPasswordProblem(value: NewPassword): Error | null {
  return value.password === value.repeat
    ? null
    : new Error('The two passwords are different. Type the same password twice.');
}

/** "Choose a password" and "Password again", as every page that creates an account asks them. */
export function NewPasswordFields({
  value,
  onChange,
  label = 'Choose a password',
  description = 'At least 12 characters. A short sentence is easy to remember and hard to guess.',
}: {
  value: NewPassword;
  onChange: (value: NewPassword) => void;
  label?: string;
  description?: string;
}) {
  return (
    <>
      <PasswordInput
        label={label}
        description={description}
        autoComplete="new-password"
        required
        value={value.password}
        onChange={(e) => onChange({ ...value, password: e.currentTarget.value })}
      />
      <PasswordInput
        label="Password again"
        autoComplete="new-password"
        required
        value={value.repeat}
        onChange={(e) => onChange({ ...value, repeat: e.currentTarget.value })}
      />
    </>
  );
}
