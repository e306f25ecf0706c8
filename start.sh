#!/usr/bin/env bash
# Runs Context IQ on embedded defaults without make: the same steps as `make run`.
set -e
cd "$(dirname "$0")"
PYTHON="$(command -v python3.11 || command -v python3)"
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "==> creating virtual environment in .venv"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  echo "==> installing Python dependencies (first time: a minute or two)"
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch .venv/.installed
fi
bash scripts/build-frontend.sh
exec .venv/bin/contextiq serve --bootstrap "$@"
