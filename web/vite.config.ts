import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The portal builds to static files (web/dist) that the Custodia server serves at `/`.
// Everything is bundled: no CDN, no web fonts, no inline scripts (the server's CSP forbids them).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { '/api': 'http://localhost:8080' },
  },
});
