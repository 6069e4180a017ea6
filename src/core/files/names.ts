import { ValidationError } from '../shared/errors.ts';

const MAX_NAME_BYTES = 255;
// C0/C1 controls, DEL, and the separators no file system or WebDAV client agrees on.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f/\\]/;

/**
 * Checks a file or folder name and returns its stored form (NFC). Names must be 1–255 UTF-8 bytes,
 * not "." or "..", with no slash, backslash or control characters, and no leading/trailing spaces.
 * Throws ValidationError `invalid_name` saying which rule failed.
 */
export function validateName(raw: string): string {
  const name = raw.normalize('NFC');
  const fail = (why: string): never => {
    throw new ValidationError('invalid_name', `This name cannot be used: ${why}.`);
  };
  if (name.length === 0) {
    fail('it is empty');
  }
  if (name === '.' || name === '..') {
    fail('"." and ".." are reserved');
  }
  if (FORBIDDEN.test(name)) {
    fail('it contains a slash, a backslash or a control character');
  }
  if (name.trim() !== name) {
    fail('it starts or ends with a space');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    fail(`it is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return name;
}

/**
 * The key that decides whether two names clash in one folder: NFC and case-folded, because Finder,
 * Explorer and most WebDAV clients treat "Report.pdf", "report.pdf" and an NFD-encoded twin as one file.
 */
export function nameKey(name: string): string {
  // Plain ASCII is its own NFC form and lower-cases the same in every locale; the ICU path is
  // several times slower and every upload takes a few keys.
  return isAscii(name) ? name.toLowerCase() : name.normalize('NFC').toLocaleLowerCase('und');
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      return false;
    }
  }
  return true;
}

const MIME_TYPES: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  zip: 'application/zip',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  html: 'text/html',
  xml: 'application/xml',
};

/** A content type from the file extension; anything unknown is served as opaque bytes. */
export function guessMimeType(name: string): string {
  const dot = name.lastIndexOf('.');
  const extension = dot >= 0 ? name.slice(dot + 1).toLowerCase() : '';
  return MIME_TYPES[extension] ?? 'application/octet-stream';
}
