#!/usr/bin/env bash
# The whole test suite: lint, types, Python tests (PostgreSQL, Redis and Kafka included), the web UI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/services.sh

echo "==> lint and types"
"$BIN/ruff" check src tests bench
"$BIN/ruff" format --check src tests bench
"$BIN/mypy"

echo "==> dependency audit (pip-audit; policy in docs/security.md)"
"$BIN/python" scripts/audit-deps.py

echo "==> Python tests"
"$BIN/pytest"

echo "==> web UI tests"
bash scripts/test-frontend.sh
