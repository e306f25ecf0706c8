#!/usr/bin/env bash
# Builds the web UI into src/contextiq/static, doing only the work that changed since last time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
frontend="$root/frontend"
built="$root/src/contextiq/static/index.html"

if ! command -v npm >/dev/null 2>&1; then
  echo "==> npm not found: skipping the web UI build (the API still serves /api/v1; install Node.js 20+ for the UI)"
  exit 0
fi

cd "$frontend"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# npm ci writes node_modules/.package-lock.json, so it doubles as the install stamp.
installed="node_modules/.package-lock.json"
if [[ ! -f "$installed" || package-lock.json -nt "$installed" ]]; then
  echo "==> installing web UI dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$installed"
fi

sources=(src index.html package.json package-lock.json vite.config.ts tsconfig.json)
if [[ -f "$built" ]] && [[ -z "$(find "${sources[@]}" -newer "$built" -print -quit)" ]]; then
  echo "==> web UI is up to date"
  exit 0
fi

echo "==> building the web UI"
npm run build --silent
