#!/usr/bin/env bash
# Web UI tests: lint (tsc, ESLint with the React hooks rules, Prettier) and Vitest, then Playwright
# end to end in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

missing() {
  if [ -n "${CI:-}" ]; then echo "error: $1 (required in CI)" >&2; exit 1; fi
  echo "skipping: $1"
}

if ! command -v npm >/dev/null 2>&1; then
  missing "npm is not installed, so the web UI tests cannot run"
  exit 0
fi
bash scripts/build-frontend.sh
(cd frontend && npm test)

if [ ! -x /usr/bin/chromium ] && [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ]; then
  echo "==> installing Debian's chromium for the end-to-end tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
  missing "/usr/bin/chromium is absent (apt-get install chromium), so the browser tests cannot run"
  exit 0
fi
(cd frontend && npm run e2e)
