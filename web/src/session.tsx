import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, get, rememberCsrf, whenSessionLost, type Me } from './api.ts';

interface SessionValue {
  me: Me | null;
  loading: boolean;
  refresh: () => Promise<Me | null>;
}

const SessionContext = createContext<SessionValue>({ me: null, loading: true, refresh: async () => null });

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);
  const refresh = useCallback(async () => {
    try {
      const next = await get<Me>('/me');
      rememberCsrf(next.csrfToken);
      setMe(next);
      return next;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        setMe(null);
        return null;
      }
      throw error;
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    // A share-link recipient is nobody's session: their page asks nothing about one.
    if (window.location.pathname.startsWith('/s/')) {
      setLoading(false);
      return;
    }
    refresh().catch(() => setLoading(false));
  }, [refresh]);
  useEffect(() => {
    whenSessionLost(() => void refresh().catch(() => undefined));
    return () => whenSessionLost(undefined);
  }, [refresh]);
  return <SessionContext.Provider value={{ me, loading, refresh }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  return useContext(SessionContext);
}

/** What the signed-in person may do, from their role (the server enforces the same rules). */
export function abilities(me: Me | null) {
  const role = me?.tenant?.role;
  return {
    hasTenant: Boolean(me?.tenant),
    isGuest: role === 'guest',
    canWrite: role === 'owner' || role === 'admin' || role === 'member',
    canShare: role === 'owner' || role === 'admin' || role === 'member',
    canAdmin: role === 'owner' || role === 'admin',
    canCompliance: role === 'owner' || role === 'admin' || role === 'compliance_officer',
    canSeeMembers: Boolean(role) && role !== 'guest',
    isOperator: Boolean(me?.user.isOperator),
  };
}
