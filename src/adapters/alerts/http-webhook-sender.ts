import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isLoopbackAddress, isPublicAddress } from '../../core/alerts/ip-ranges.ts';
import type { WebhookSender } from '../../core/alerts/ports.ts';

/** Longest a receiver may take to answer before the attempt counts as failed. */
const TIMEOUT_MS = 10_000;

/**
 * POSTs webhooks with node:http(s). The address check runs on what DNS returns, at connect time, so
 * a public-looking name that resolves to a private, loopback or link-local address (DNS rebinding,
 * cloud metadata) is refused even though the URL passed validation. Redirects are not followed.
 * `allowLoopback` (tests, CUSTODIA_ALERT_WEBHOOK_ALLOW_LOOPBACK) lets 127.0.0.1/::1 through.
 */
export class HttpWebhookSender implements WebhookSender {
  readonly #allowLoopback: boolean;

  constructor(options: { allowLoopback: boolean }) {
    this.#allowLoopback = options.allowLoopback;
  }

  post(input: { url: string; body: string; headers: Record<string, string> }): Promise<{ status: number }> {
    const url = new URL(input.url);
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    // An address literal is connected to without a lookup, so it is checked here.
    if (isIP(literal) !== 0 && !this.#isAllowed(literal)) {
      return Promise.reject(
        Object.assign(new Error(`${literal} is a private or reserved address`), { code: 'EADDRNOTALLOWED' }),
      );
    }
    const client = url.protocol === 'https:' ? https : http;
    const lookup: LookupFunction = (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) {
          callback(error, '', 4);
          return;
        }
        const list = addresses as LookupAddress[];
        const allowed = list.filter((a) => this.#isAllowed(a.address));
        const chosen = allowed[0];
        if (!chosen) {
          callback(
            Object.assign(new Error(`${hostname} resolves to a private or reserved address`), {
              code: 'EADDRNOTALLOWED',
            }),
            '',
            4,
          );
          return;
        }
        if ((options as { all?: boolean }).all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
          return;
        }
        callback(null, chosen.address, chosen.family);
      });
    };
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: 'POST',
          headers: {
            ...input.headers,
            'content-length': Buffer.byteLength(input.body),
            'user-agent': 'Custodia-Alerts/1',
          },
          lookup,
          timeout: TIMEOUT_MS,
        },
        (response) => {
          response.resume(); // the body is not needed; drain it so the socket is released
          response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () =>
        request.destroy(
          Object.assign(new Error('the receiver did not answer in time'), { code: 'ETIMEDOUT' }),
        ),
      );
      request.on('error', reject);
      request.end(input.body);
    });
  }

  #isAllowed(address: string): boolean {
    return isPublicAddress(address) || (this.#allowLoopback && isLoopbackAddress(address));
  }
}
