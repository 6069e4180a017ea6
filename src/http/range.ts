import { DomainError } from '../core/shared/errors.ts';

/**
 * Parses a Range header (RFC 9110 §14) for a representation of `size` bytes. Only one byte range
 * is served. Returns undefined when the header should be ignored (absent, or a unit we do not know);
 * throws a 416 for ranges that are malformed, multiple or outside the file.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (header === undefined) {
    return undefined;
  }
  const trimmed = header.trim();
  if (!/^bytes=/i.test(trimmed)) {
    return undefined;
  }
  const spec = trimmed.slice(6).trim();
  if (spec.includes(',')) {
    throw rangeError('multiple_ranges_unsupported', 'Ask for one byte range at a time.', size);
  }
  const match = /^(\d{0,16})-(\d{0,16})$/.exec(spec);
  if (!match || (match[1] === '' && match[2] === '')) {
    throw rangeError('invalid_range', 'The Range header is malformed; use bytes=start-end.', size);
  }
  const [, first, last] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) {
      throw rangeError('range_not_satisfiable', 'The requested byte range lies outside the file.', size);
    }
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) {
    throw rangeError('invalid_range', 'The range ends before it starts.', size);
  }
  if (start >= size) {
    throw rangeError('range_not_satisfiable', 'The requested byte range lies outside the file.', size);
  }
  return { start, end };
}

function rangeError(code: string, message: string, size: number): DomainError {
  return new DomainError({ code, category: 'range', message, details: { size } });
}
