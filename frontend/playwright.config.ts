import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "@playwright/test";

// Shared with bench/first-paint.mjs; read as text since Node wants an import attribute for JSON.
const chromiumArgs: string[] = JSON.parse(
  readFileSync(new URL("./chromium-args.json", import.meta.url), "utf8"),
);

/**
 * Workers re-read this file, so the port and data dir are chosen once and handed on through the
 * environment; a second evaluation must not pick different ones.
 */
function freePort(): string {
  return execFileSync(process.execPath, [
    "-e",
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();});",
  ]).toString();
}

process.env.CIQ_E2E_PORT ??= freePort();
process.env.CIQ_E2E_DATA ??= mkdtempSync(join(tmpdir(), "contextiq-e2e-"));
const port = process.env.CIQ_E2E_PORT;
const data = process.env.CIQ_E2E_DATA;
/** CIQ_E2E_BASE_URL points the tests at a server you already run; otherwise one is started. */
const existing = process.env.CIQ_E2E_BASE_URL;
export const baseURL = existing ?? `http://127.0.0.1:${port}`;

/** Debian's chromium in a container: no sandbox, no GPU, no background traffic. */
export const CHROMIUM_ARGS: string[] = chromiumArgs;

export default defineConfig({
  testDir: "tests/e2e",
  outputDir: "test-results/artifacts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  globalTeardown: "./tests/e2e/teardown.ts",
  use: {
    baseURL,
    browserName: "chromium",
    headless: true,
    launchOptions: { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS },
    trace: "retain-on-failure",
  },
  projects: [
    { name: "desktop", use: { viewport: { width: 1366, height: 900 } } },
    {
      name: "phone",
      // A touch screen has no Tab key; keyboard navigation is checked on desktop.
      grepInvert: /@keyboard/,
      use: {
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
        deviceScaleFactor: 2,
      },
    },
  ],
  webServer: existing
    ? undefined
    : {
        command: "bash ../scripts/build-frontend.sh && ../.venv/bin/contextiq serve --bootstrap",
        url: `${baseURL}/api/v1/health`,
        timeout: 180_000,
        reuseExistingServer: false,
        stdout: "pipe",
        stderr: "pipe",
        env: {
          CONTEXTIQ_HOST: "127.0.0.1",
          CONTEXTIQ_PORT: port,
          CONTEXTIQ_DATABASE_URL: `sqlite+aiosqlite:///${data}/contextiq.db`,
          CONTEXTIQ_MODEL_DIR: join(data, "models"),
          CONTEXTIQ_ADMIN_KEY: "e2e-admin-key",
          // Bootstrap already trained a model; a retrain mid-test would only compete for the CPU.
          CONTEXTIQ_RETRAIN_EVERY_EVENTS: "0",
        },
      },
});
