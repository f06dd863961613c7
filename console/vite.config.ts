/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// Element Plus components are imported on demand (with their CSS), so the initial route only
// carries what it renders; ECharts is imported modularly in src/charts/echarts.ts. Pages are
// lazy routes. See bench/console.py for the initial-route bundle budget (gzip ≤ 500 KB).
export default defineConfig({
  plugins: [
    vue(),
    Components({
      dts: false,
      dirs: [],
      resolvers: [ElementPlusResolver({ importStyle: 'css' })],
    }),
  ],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    manifest: true,
  },
  server: {
    // `npm run dev` against a running `make run`: the local stack serves /v1 and /config.json.
    proxy: {
      '/v1': process.env.VOLTOPS_CONSOLE_URL ?? 'http://127.0.0.1:8080',
      '/config.json': process.env.VOLTOPS_CONSOLE_URL ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.spec.ts'],
    restoreMocks: true,
    // Element Plus components import their CSS; inlining lets Vite handle it in component tests.
    server: { deps: { inline: ['element-plus'] } },
  },
})
