import {
  AppShell,
  Avatar,
  Badge,
  Burger,
  Center,
  Group,
  Loader,
  Menu,
  NavLink,
  ScrollArea,
  Stack,
  Text,
  Title,
  UnstyledButton,
  VisuallyHidden,
  Button,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import {
  IconBell,
  IconBuilding,
  IconChevronDown,
  IconFolder,
  IconFolderShare,
  IconHistory,
  IconLogout,
  IconServer2,
  IconShieldCheck,
  IconTrash,
  IconUserCircle,
} from '@tabler/icons-react';
import { lazy, Suspense, useEffect, useRef, type ReactNode } from 'react';
import { post, ROLE_LABEL, type Me } from './api.ts';
import { attempt, Brand } from './components/common.tsx';
import { FolderTree } from './components/FolderTree.tsx';
import { EnrolmentGate, SecondFactorPage, SignInPage } from './pages/SignInPage.tsx';
import { FilesPage } from './pages/FilesPage.tsx';
import { InvitePage } from './pages/InvitePage.tsx';
import { NotFoundPage } from './pages/NotFoundPage.tsx';
import { PublicSharePage } from './pages/PublicSharePage.tsx';
import { SetupPage } from './pages/SetupPage.tsx';
import { navigate, useLocation } from './router.tsx';

// Pages most people open rarely load on demand, so sign-in and the file browser start faster.
const AccountPage = lazy(() => import('./pages/AccountPage.tsx').then((m) => ({ default: m.AccountPage })));
const ActivityPage = lazy(() =>
  import('./pages/ActivityPage.tsx').then((m) => ({ default: m.ActivityPage })),
);
const AlertsPage = lazy(() => import('./pages/AlertsPage.tsx').then((m) => ({ default: m.AlertsPage })));
const AdminPage = lazy(() => import('./pages/AdminPage.tsx').then((m) => ({ default: m.AdminPage })));
const CompliancePage = lazy(() =>
  import('./pages/CompliancePage.tsx').then((m) => ({ default: m.CompliancePage })),
);
const OperatorPage = lazy(() =>
  import('./pages/OperatorPage.tsx').then((m) => ({ default: m.OperatorPage })),
);
const TrashPage = lazy(() => import('./pages/TrashPage.tsx').then((m) => ({ default: m.TrashPage })));
const SharedWithMePage = lazy(() =>
  import('./pages/SharedWithMePage.tsx').then((m) => ({ default: m.SharedWithMePage })),
);
import { abilities, useSession } from './session.tsx';

export function App() {
  const { pathname } = useLocation();
  const { me, loading } = useSession();
  const hadSession = useRef(false);
  if (me) {
    hadSession.current = true;
  }

  // Pages that work without signing in.
  if (pathname === '/setup') {
    return <SetupPage />;
  }
  if (pathname === '/invite') {
    return <InvitePage />;
  }
  if (pathname.startsWith('/s/')) {
    return <PublicSharePage token={pathname.slice(3)} />;
  }
  if (loading) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (!me) {
    return <SignInPage wasSignedIn={hadSession.current} />;
  }
  if (me.secondFactorPending) {
    return <SecondFactorPage />;
  }
  if (me.enrollmentRequired) {
    return <EnrolmentGate />;
  }
  return <SignedIn me={me} pathname={pathname} />;
}

function homeFor(me: Me): string {
  const can = abilities(me);
  if (!can.hasTenant) {
    return can.isOperator ? '/operator' : me.memberships.length > 0 ? '/files' : '/account';
  }
  return can.isGuest ? '/shared' : '/files';
}

function SignedIn({ me, pathname }: { me: Me; pathname: string }) {
  const can = abilities(me);
  const home = homeFor(me);
  useEffect(() => {
    if (pathname === '/' || pathname === '/sign-in') {
      navigate(home, { replace: true });
    }
  }, [pathname, home]);

  let page: ReactNode;
  const needsTenant = [
    '/files',
    '/shared',
    '/trash',
    '/organisation',
    '/compliance',
    '/alerts',
    '/activity',
  ].some((p) => pathname === p || pathname.startsWith(`${p}/`));
  if (needsTenant && !can.hasTenant && me.memberships.length > 0) {
    page = <OrganisationUnavailable me={me} />;
  } else if (pathname === '/files' || pathname.startsWith('/files/')) {
    page = can.hasTenant ? <FilesPage folderId={pathname.split('/')[2] || null} /> : <NotFoundPage />;
  } else if (pathname === '/shared') {
    page = <SharedWithMePage />;
  } else if (pathname === '/trash') {
    page = <TrashPage />;
  } else if (pathname === '/account') {
    page = <AccountPage />;
  } else if (pathname === '/organisation') {
    page = can.canAdmin ? <AdminPage /> : <NotFoundPage />;
  } else if (pathname === '/compliance') {
    page = can.canCompliance ? <CompliancePage /> : <NotFoundPage />;
  } else if (pathname === '/activity') {
    page = can.canCompliance ? <ActivityPage /> : <NotFoundPage />;
  } else if (pathname === '/alerts') {
    page = can.canCompliance ? <AlertsPage /> : <NotFoundPage />;
  } else if (pathname === '/operator') {
    page = can.isOperator ? <OperatorPage /> : <NotFoundPage />;
  } else if (pathname === '/' || pathname === '/sign-in') {
    page = null;
  } else {
    page = <NotFoundPage />;
  }
  return (
    <Shell me={me} pathname={pathname}>
      {page}
    </Shell>
  );
}

function Shell({ me, pathname, children }: { me: Me; pathname: string; children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure(false);
  const { refresh } = useSession();
  const can = abilities(me);
  const go = (to: string) => {
    close();
    navigate(to);
  };
  const item = (to: string, label: string, icon: ReactNode, match = (p: string) => p === to) => (
    <NavLink
      key={to}
      href={to}
      label={label}
      leftSection={icon}
      active={match(pathname)}
      aria-current={match(pathname) ? 'page' : undefined}
      onClick={(event) => {
        event.preventDefault();
        go(to);
      }}
      style={{ borderRadius: 8 }}
    />
  );

  const signOut = async () => {
    await attempt(() => post('/auth/sign-out'));
    await refresh();
    navigate('/', { replace: true });
  };

  const switchTenant = async (tenantId: string) => {
    if (await attempt(() => post('/me/tenant', { tenantId }))) {
      await refresh();
      navigate('/', { replace: true });
    }
  };

  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 248, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding={{ base: 'sm', sm: 'lg' }}
    >
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Open navigation" />
            <UnstyledButton onClick={() => go(homeFor(me))} aria-label="Custodia home">
              <Brand />
            </UnstyledButton>
            {me.tenant ? (
              <Text c="dimmed" size="sm" visibleFrom="xs" truncate maw={220}>
                {me.tenant.name}
              </Text>
            ) : null}
          </Group>
          <Menu position="bottom-end" width={260} withinPortal>
            <Menu.Target>
              <UnstyledButton data-testid="user-menu">
                <Group gap={8} wrap="nowrap">
                  <Avatar size={32} radius="xl" color="custodia" aria-hidden>
                    {initials(me.user.displayName)}
                  </Avatar>
                  <Text size="sm" fw={500} visibleFrom="sm" truncate maw={180}>
                    {me.user.displayName}
                  </Text>
                  <VisuallyHidden>Account menu</VisuallyHidden>
                  <IconChevronDown size={14} aria-hidden />
                </Group>
              </UnstyledButton>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>
                {me.user.email}
                {me.tenant ? ` · ${ROLE_LABEL[me.tenant.role]}` : ''}
              </Menu.Label>
              <Menu.Item leftSection={<IconUserCircle size={16} />} onClick={() => go('/account')}>
                Account and security
              </Menu.Item>
              {me.memberships.length > 1 ? (
                <>
                  <Menu.Divider />
                  <Menu.Label>Switch organisation</Menu.Label>
                  {me.memberships.map((m) => (
                    <Menu.Item
                      key={m.tenantId}
                      disabled={m.tenantId === me.tenant?.id}
                      onClick={() => void switchTenant(m.tenantId)}
                    >
                      {m.tenantName}
                    </Menu.Item>
                  ))}
                </>
              ) : null}
              <Menu.Divider />
              <Menu.Item leftSection={<IconLogout size={16} />} onClick={() => void signOut()}>
                Sign out
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" aria-label="Main">
        <AppShell.Section grow component={ScrollArea}>
          <Stack gap={2}>
            {can.hasTenant && !can.isGuest
              ? item('/files', 'Files', <IconFolder size={18} />, (p) => p === '/files')
              : null}
            {can.hasTenant && !can.isGuest && pathname.startsWith('/files') ? (
              <FolderTree currentId={pathname.split('/')[2] || null} onNavigate={close} />
            ) : null}
            {can.isGuest ? item('/shared', 'Shared with me', <IconFolderShare size={18} />) : null}
            {can.hasTenant && can.canWrite ? item('/trash', 'Trash', <IconTrash size={18} />) : null}
            {can.canAdmin ? item('/organisation', 'Organisation', <IconBuilding size={18} />) : null}
            {can.canCompliance
              ? item('/compliance', 'Compliance centre', <IconShieldCheck size={18} />)
              : null}
            {can.canCompliance ? item('/activity', 'Activity', <IconHistory size={18} />) : null}
            {can.canCompliance ? item('/alerts', 'Alerts', <IconBell size={18} />) : null}
            {can.isOperator ? item('/operator', 'Operator console', <IconServer2 size={18} />) : null}
            {item('/account', 'Account and security', <IconUserCircle size={18} />)}
          </Stack>
        </AppShell.Section>
        <AppShell.Section>
          {!me.user.mfaEnabled ? (
            <Badge
              color="orange"
              variant="light"
              fullWidth
              size="lg"
              style={{ cursor: 'pointer', textTransform: 'none' }}
              onClick={() => go('/account')}
            >
              Two-factor sign-in is off
            </Badge>
          ) : null}
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <div style={{ maxWidth: 1200, margin: '0 auto' }}>
          <Suspense
            fallback={
              <Center py={64}>
                <Loader aria-label="Loading" />
              </Center>
            }
          >
            {children}
          </Suspense>
        </div>
      </AppShell.Main>
    </AppShell>
  );
}

/** Signed in, but the session's organisation does not answer (suspended by the provider). */
function OrganisationUnavailable({ me }: { me: Me }) {
  const { refresh } = useSession();
  const names = me.memberships.map((m) => m.tenantName).join(', ');
  return (
    <Stack align="flex-start" gap="sm" py="xl" maw={620}>
      <Title order={1} fz={24}>
        Your organisation is not available
      </Title>
      <Text>
        {names} cannot be used at the moment: your provider has suspended access. Nothing has been deleted;
        your files are kept as they were.
      </Text>
      <Text c="dimmed" size="sm">
        Ask your provider (or your organisation's owner) to resume it. Then press the button below.
      </Text>
      <Button variant="default" onClick={() => void refresh()}>
        Try again
      </Button>
    </Stack>
  );
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return (
    ((parts[0]?.[0] ?? '') + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '')).toUpperCase() ||
    '?'
  );
}
