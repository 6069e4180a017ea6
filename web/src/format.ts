const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '—';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDateTime(ms: number | null | undefined): string {
  return ms ? dateTime.format(new Date(ms)) : '—';
}

export function formatDate(ms: number | null | undefined): string {
  return ms ? dateOnly.format(new Date(ms)) : '—';
}

/** "3 minutes ago", "yesterday", or a date for anything older than a week. */
export function formatRelative(ms: number, now = Date.now()): string {
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < -45) {
    return formatDate(ms); // in the future: a date says more than "in 6 days"
  }
  if (seconds < 45) {
    return 'just now';
  }
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (seconds < 3600) {
    return rtf.format(-Math.round(seconds / 60), 'minute');
  }
  if (seconds < 86400) {
    return rtf.format(-Math.round(seconds / 3600), 'hour');
  }
  if (seconds < 7 * 86400) {
    return rtf.format(-Math.round(seconds / 86400), 'day');
  }
  return formatDate(ms);
}

/** A short, readable description of a browser user agent. */
export function describeUserAgent(ua: string | null): string {
  if (!ua) {
    return 'Unknown device';
  }
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\/|Chromium\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : /curl|node|undici|python|Go-http/i.test(ua)
            ? 'Script or API client'
            : 'Browser';
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Android/.test(ua)
      ? 'Android'
      : /iPhone|iPad/.test(ua)
        ? 'iOS'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}
