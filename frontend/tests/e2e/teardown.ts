import { rmSync } from "node:fs";

/** The server's data dir is a throwaway made by playwright.config.ts; leave no trace in /tmp. */
export default function teardown(): void {
  const data = process.env.CIQ_E2E_DATA;
  if (data && !process.env.CIQ_E2E_KEEP_DATA) rmSync(data, { recursive: true, force: true });
}
