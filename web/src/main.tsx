import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './app.css';
import {
  Alert,
  createTheme,
  defaultVariantColorsResolver,
  MantineProvider,
  Modal,
  Notification,
  parseThemeColor,
  type CSSVariablesResolver,
  type VariantColorsResolver,
} from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { SessionProvider } from './session.tsx';

// Text on tinted ("light") badges, alerts and buttons in the darkest shade, for AA contrast.
const variantColorResolver: VariantColorsResolver = (input) => {
  const defaults = defaultVariantColorsResolver(input);
  if (input.variant === 'light') {
    const parsed = parseThemeColor({ color: input.color ?? input.theme.primaryColor, theme: input.theme });
    if (parsed.isThemeColor) {
      return { ...defaults, color: `var(--mantine-color-${parsed.color}-9)` };
    }
  }
  return defaults;
};

// System fonts only: nothing is fetched from anywhere but this server.
const theme = createTheme({
  primaryColor: 'custodia',
  colors: {
    custodia: [
      '#eaf2fb',
      '#d3e3f4',
      '#a6c6ea',
      '#75a6df',
      '#4d8bd5',
      '#347acf',
      '#2570c6',
      '#1c5d99',
      '#15518a',
      '#0b4579',
    ],
  },
  primaryShade: 7,
  variantColorResolver,
  defaultRadius: 'md',
  fontFamily:
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
  headings: { fontWeight: '650' },
  // Every close button gets a name screen readers can announce.
  components: {
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close' } } }),
    Notification: Notification.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Dismiss' } } }),
    Alert: Alert.extend({ defaultProps: { closeButtonLabel: 'Dismiss' } }),
  },
});

// WCAG AA contrast: Mantine's default "dimmed" grey is too light on white (about 3.3:1).
const contrast: CSSVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': '#5c636a' },
  dark: {},
});

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <MantineProvider theme={theme} defaultColorScheme="light" cssVariablesResolver={contrast}>
        <Notifications position="bottom-right" />
        <SessionProvider>
          <App />
        </SessionProvider>
      </MantineProvider>
    </StrictMode>,
  );
}
