/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API serves the production build from the Python package, so the product is one port.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/contextiq/static",
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    proxy: { "/api": process.env.CONTEXTIQ_API ?? "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["tests/unit/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/unit/setup.ts"],
  },
});
