import { v7 as uuidv7 } from 'uuid';

/** Time-ordered ids (UUIDv7): portable text keys that index well on both dialects. */
export function newId(): string {
  return uuidv7();
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `value` has the shape of an id we issue; anything else can be answered 404 at once. */
export function isId(value: string): boolean {
  return UUID_PATTERN.test(value);
}
