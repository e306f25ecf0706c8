"""Reaching the real services tests use: fail loudly in CI, skip with a reason elsewhere."""

import atexit
import functools
import os
import socket
from pathlib import Path

import pytest
import redis

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: Redis db indexes a test run may lease; the shared Redis keeps other data in db 0.
REDIS_TEST_DBS = range(11, 16)
#: A run's lease lapses after CI's limit, should the run die without giving it back.
REDIS_LEASE_SECONDS = 90 * 60


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


@functools.cache
def redis_test_db() -> int:
    """A Redis db index of this run's own, which its tests flush freely.

    Two suites on one machine (two clones, say) flushing one index would delete each other's
    keys mid-test; each run therefore leases an index (a key in db 0, given back at exit).
    `CONTEXTIQ_TEST_REDIS_DB` names one instead.
    """
    if named := os.environ.get("CONTEXTIQ_TEST_REDIS_DB"):
        return int(named)
    require(REDIS_HOST, REDIS_PORT, "Redis")
    leases = redis.Redis(REDIS_HOST, REDIS_PORT, db=0)
    for db in REDIS_TEST_DBS:
        lease = f"contextiq-tests:redis-db:{db}"
        if leases.set(lease, os.getpid(), nx=True, ex=REDIS_LEASE_SECONDS):
            atexit.register(leases.delete, lease)
            return db
    pytest.fail(
        f"every Redis db index tests may use ({REDIS_TEST_DBS.start}-{REDIS_TEST_DBS.stop - 1})"
        " is leased by another test run; wait for it, or delete its contextiq-tests:* keys"
    )
