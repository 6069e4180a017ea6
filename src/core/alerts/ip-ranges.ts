import { BlockList, isIP } from 'node:net';

/**
 * CIDR ranges (IPv4 and IPv6) with Node's built-in BlockList: address arithmetic only, no sockets.
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as a dual-stack listener reports IPv4 clients) are
 * matched as the IPv4 address they carry (BlockList does this itself, in dotted and hex form). Never
 * add `::ffff:0:0/96` as a range: BlockList then matches every IPv4 address against it.
 */
export interface IpRanges {
  readonly isEmpty: boolean;
  contains(address: string): boolean;
}

export const MAX_IP_RANGES = 100;

/** A range that does not parse, with the reason. */
export class CidrParseError extends Error {
  readonly range: string;

  constructor(range: string, reason: string) {
    super(`"${range}" is not a CIDR range: ${reason}`);
    this.range = range;
  }
}

/** Parses one `address/prefix` (or a bare address: a single host) into its canonical text. */
export function parseCidr(text: string): {
  address: string;
  prefix: number;
  family: 4 | 6;
  canonical: string;
} {
  const trimmed = text.trim();
  const [address = '', prefixText, extra] = trimmed.split('/');
  if (extra !== undefined) {
    throw new CidrParseError(text, 'more than one "/"');
  }
  const family = isIP(address);
  if (family !== 4 && family !== 6) {
    throw new CidrParseError(text, 'the address is neither IPv4 nor IPv6');
  }
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) {
    throw new CidrParseError(text, 'the prefix length must be a number');
  }
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) {
    throw new CidrParseError(text, `the prefix length must be 0 to ${max}`);
  }
  return { address, prefix, family, canonical: `${address.toLowerCase()}/${prefix}` };
}

/** Builds a matcher; throws CidrParseError at the first range that does not parse. */
export function ipRanges(ranges: readonly string[]): IpRanges {
  const list = new BlockList();
  for (const range of ranges) {
    const { address, prefix, family } = parseCidr(range);
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    isEmpty: ranges.length === 0,
    contains: (candidate) => {
      const normal = unmapIpv4(candidate);
      const family = isIP(normal);
      if (family === 0) {
        return false;
      }
      return list.check(normal, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged. */
export function unmapIpv4(address: string): string {
  const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address.trim());
  return match?.[1] ?? address.trim();
}

/**
 * Addresses a webhook must never reach (SSRF): loopback, private (RFC 1918, ULA), link-local (cloud
 * metadata lives at 169.254.169.254), carrier-grade NAT, multicast, reserved and unspecified.
 */
const NOT_PUBLIC = ipRanges([
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  '64:ff9b::/96',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
]);
const LOOPBACK = ipRanges(['127.0.0.0/8', '::1/128']);

export function isPublicAddress(address: string): boolean {
  return isIP(unmapIpv4(address)) !== 0 && !NOT_PUBLIC.contains(address);
}

export function isLoopbackAddress(address: string): boolean {
  return LOOPBACK.contains(address);
}
