// A very small router over the History API: the portal has a handful of routes and needs no more.
import { Anchor, type AnchorProps } from '@mantine/core';
import { useEffect, useState, type MouseEvent, type ReactNode } from 'react';

const listeners = new Set<() => void>();

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) {
    window.history.replaceState(null, '', to);
  } else {
    window.history.pushState(null, '', to);
  }
  window.scrollTo(0, 0);
  listeners.forEach((l) => l());
}

export function useLocation(): { pathname: string; search: string; hash: string } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  const { pathname, search, hash } = window.location;
  return { pathname, search, hash };
}

/** An in-app link: a real <a href> (open in new tab works), navigation without a reload. */
export function Link({
  to,
  children,
  ...rest
}: { to: string; children: ReactNode } & AnchorProps & { 'aria-label'?: string; 'aria-current'?: 'page' }) {
  return (
    <Anchor
      href={to}
      onClick={(event: MouseEvent<HTMLAnchorElement>) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) {
          return;
        }
        event.preventDefault();
        navigate(to);
      }}
      {...rest}
    >
      {children}
    </Anchor>
  );
}
