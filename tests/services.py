"""Reaching the real services tests use: fail loudly in CI, skip with a reason elsewhere."""

import os
import socket
from pathlib import Path

import pytest

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(host: str, port: int, what: str) -> None:
    """Integration tests never skip silently in CI: a missing service fails the run."""
    if reachable(host, port):
        return
    message = f"{what} is not reachable on {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must start it (scripts/services.sh)")
    pytest.skip(f"{message}; start it to run this test (see README, Testing)")


def datasets_dir() -> Path:
    """`../shared/datasets` beside the checkout; skipped with a reason outside CI when absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not path.is_dir():
        message = f"public datasets not found at {path} (they are never bundled)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
