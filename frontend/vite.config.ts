import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const backend = process.env.PROMPTLOOPER_API ?? "http://127.0.0.1:8400";

// The dashboard talks to relative /api/v1 paths: in dev Vite proxies them to the API on :8400,
// in single-container mode the API serves dist/ itself, and in production nginx proxies them.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: {
      "/api": { target: backend, changeOrigin: true },
      "/ws": { target: backend, ws: true, changeOrigin: true },
      "/health": { target: backend, changeOrigin: true },
    },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    // The charts chunk (echarts) is large but only loads on the Charts tab.
    chunkSizeWarningLimit: 700,
  },
});
