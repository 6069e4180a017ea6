import { useEffect, useState } from 'react';
import { get, type Member } from './api.ts';

let cache: Promise<Member[]> | undefined;

/** The organisation's members by user id (guests may not list members: they get an empty map). */
export function useMemberNames(enabled: boolean): Map<string, Member> {
  const [map, setMap] = useState<Map<string, Member>>(new Map());
  useEffect(() => {
    if (!enabled) {
      return;
    }
    cache ??= get<{ items: Member[] }>('/members')
      .then((r) => r.items)
      .catch(() => {
        cache = undefined;
        return [];
      });
    void cache.then((items) => setMap(new Map(items.map((m) => [m.userId, m]))));
  }, [enabled]);
  return map;
}

export function forgetMembers(): void {
  cache = undefined;
}
