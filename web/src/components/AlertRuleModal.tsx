import { Button, Group, Modal, NumberInput, Select, Stack, TextInput } from '@mantine/core';
import { useState } from 'react';
import { patch, post } from '../api.ts';
import { ErrorNotice, notifyDone, SubmitRow } from './common.tsx';

export type Kind = 'bulk_download' | 'sign_in_failures' | 'outside_ip_ranges' | 'share_link_many_ips';

export interface Rule {
  id: string;
  kind: Kind;
  name: string;
  threshold: number;
  windowSeconds: number;
  enabled: boolean;
  webhookUrl: string | null;
  hasWebhookSecret: boolean;
  emailTo: string[];
}

export interface RuleList {
  items: Rule[];
  defaults: Record<Kind, { name: string; threshold: number; windowSeconds: number; explanation: string }>;
  limits: { threshold: { min: number; max: number }; windowSeconds: { min: number; max: number } };
  emailAvailable: boolean;
}

export const KIND_LABEL: Record<Kind, string> = {
  bulk_download: 'Many downloads by one account',
  sign_in_failures: 'Repeated sign-in failures',
  outside_ip_ranges: 'Activity from outside the allowed IP ranges',
  share_link_many_ips: 'Share link used from many addresses',
};

/** Creating or editing an alert rule; a new rule starts from its kind's defaults. */
export function RuleModal({
  rules,
  rule,
  onClose,
  onSaved,
}: {
  rules: RuleList;
  rule: Rule | null;
  onClose: () => void;
  onSaved: (secret: string | undefined) => Promise<void>;
}) {
  const [kind, setKind] = useState<Kind>(rule?.kind ?? 'bulk_download');
  const defaults = rules.defaults[kind];
  const [name, setName] = useState(rule?.name ?? defaults.name);
  const [threshold, setThreshold] = useState<number | string>(rule?.threshold ?? defaults.threshold);
  const [minutes, setMinutes] = useState<number | string>(
    (rule?.windowSeconds ?? defaults.windowSeconds) / 60,
  );
  const [webhookUrl, setWebhookUrl] = useState(rule?.webhookUrl ?? '');
  const [emailTo, setEmailTo] = useState(rule?.emailTo.join(', ') ?? '');
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);

  const chooseKind = (next: Kind) => {
    setKind(next);
    setName(rules.defaults[next].name);
    setThreshold(rules.defaults[next].threshold);
    setMinutes(rules.defaults[next].windowSeconds / 60);
  };

  const save = async () => {
    setSaving(true);
    setError(null);
    const body = {
      name: name.trim(),
      threshold: Number(threshold),
      windowSeconds: Math.round(Number(minutes) * 60),
      webhookUrl: webhookUrl.trim() || null,
      emailTo: emailTo
        .split(/[,;\s]+/)
        .map((e) => e.trim())
        .filter(Boolean),
    };
    try {
      const result = rule
        ? await patch<{ webhookSecret?: string }>(`/alert-rules/${rule.id}`, body)
        : await post<{ webhookSecret?: string }>('/alert-rules', { kind, ...body });
      notifyDone(rule ? 'Rule saved' : 'Rule created');
      await onSaved(result.webhookSecret);
    } catch (caught) {
      setError(caught);
    } finally {
      setSaving(false);
    }
  };

  const isOutside = kind === 'outside_ip_ranges';
  return (
    <Modal opened onClose={onClose} title={rule ? 'Edit alert rule' : 'New alert rule'} size="lg">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <Stack gap="sm">
          <Select
            label="Watch for"
            data={(Object.keys(KIND_LABEL) as Kind[]).map((k) => ({ value: k, label: KIND_LABEL[k] }))}
            value={kind}
            onChange={(value) => value && chooseKind(value as Kind)}
            disabled={rule !== null}
            allowDeselect={false}
            description={defaults.explanation}
          />
          <TextInput
            label="Name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
            maxLength={200}
          />
          <Group grow align="flex-start">
            {isOutside ? null : (
              <NumberInput
                label={
                  kind === 'bulk_download'
                    ? 'More than (files)'
                    : kind === 'share_link_many_ips'
                      ? 'Addresses'
                      : 'Failed sign-ins'
                }
                value={threshold}
                onChange={setThreshold}
                min={rules.limits.threshold.min}
                max={rules.limits.threshold.max}
                allowDecimal={false}
                required
              />
            )}
            <NumberInput
              label={isOutside ? 'Quiet period (minutes)' : 'Within (minutes)'}
              description={
                isOutside
                  ? 'Fires again for the same account and address after this long without it.'
                  : undefined
              }
              value={minutes}
              onChange={setMinutes}
              min={rules.limits.windowSeconds.min / 60}
              max={rules.limits.windowSeconds.max / 60}
              decimalScale={2}
              required
            />
          </Group>
          <TextInput
            label="Webhook URL"
            description="An https address that receives each alert as signed JSON. Leave empty for none."
            placeholder="https://hooks.example.com/custodia"
            value={webhookUrl}
            onChange={(e) => setWebhookUrl(e.currentTarget.value)}
            maxLength={2048}
          />
          <TextInput
            label="E-mail to"
            description={
              rules.emailAvailable
                ? 'Up to 10 addresses, separated by commas.'
                : 'E-mail is not set up on this installation (ask your provider to configure SMTP).'
            }
            placeholder="security@example.com"
            value={emailTo}
            onChange={(e) => setEmailTo(e.currentTarget.value)}
            disabled={!rules.emailAvailable}
          />
          <ErrorNotice error={error} title="The rule was not saved" />
          <SubmitRow>
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={saving}>
              {rule ? 'Save' : 'Create rule'}
            </Button>
          </SubmitRow>
        </Stack>
      </form>
    </Modal>
  );
}
