import nodemailer, { type Transporter } from 'nodemailer';
import type { MailSender } from '../../core/alerts/ports.ts';

/**
 * Alert e-mails through the operator's SMTP server (CUSTODIA_SMTP_URL, e.g. smtp://host:587 or
 * smtps://user:pass@host:465). Unconfigured, it refuses to send (rules cannot ask for e-mail then).
 */
export class SmtpMailSender implements MailSender {
  readonly #transport: Transporter | undefined;
  readonly #from: string;

  constructor(options: { url?: string; from: string }) {
    this.#transport = options.url
      ? nodemailer.createTransport({
          url: options.url,
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 20_000,
        })
      : undefined;
    this.#from = options.from;
  }

  get isConfigured(): boolean {
    return this.#transport !== undefined;
  }

  async send(input: { to: string[]; subject: string; text: string }): Promise<void> {
    if (!this.#transport) {
      throw new Error('no SMTP server is configured');
    }
    await this.#transport.sendMail({
      from: this.#from,
      to: input.to,
      subject: input.subject,
      text: input.text,
    });
  }

  close(): void {
    this.#transport?.close();
  }
}
