/**
 * Renderer build: root is renderer/, output out/renderer/ loaded from file:// (Electron) or the local web server,
 * hence relative asset URLs (base './'). Paths come from import.meta.dirname (Vite provides it to config files),
 * so the config needs no Node imports (the renderer's lint layer forbids them).
 */
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

const root = import.meta.dirname;

export default defineConfig({
  root,
  base: './',
  plugins: [vue()],
  build: {
    outDir: `${root}/../out/renderer`,
    emptyOutDir: true,
    // Electron 45 ships Chromium 140; the web mode targets the same evergreen browsers.
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  worker: { format: 'es' },
  server: { fs: { allow: [`${root}/..`] } },
});
