import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** The portal: a single-page app in src/web, built into dist/web, which the server serves. */
export default defineConfig({
  root: fileURLToPath(new URL('./src/web', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    emptyOutDir: true,
    // React, Mantine and TanStack Query in one file: about 170 kB gzipped
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `vite` in dev: the API comes from a running `npm start`
    proxy: { '/api': 'http://localhost:3000' },
  },
});
