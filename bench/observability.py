"""What metrics and request logs cost: the cache-hit path with them on and off, in one run.

    .venv/bin/python bench/observability.py [--seconds 10] [--connections 32] [--rounds 2]
                                            [--in-process-only]

First, in process and without a network, the CPU time per request of a bare FastAPI endpoint
called through ASGI, without and with the observability middleware in each configuration: the
best of `--rounds` passes of 20,000 requests (CPU time, so other load on the machine inflates it
less than wall time). Then, over HTTP, it starts `contextiq serve` on the demo data (one
uvicorn worker, embedded defaults) in two configurations, alternating `--rounds` times so
drift in the machine's load hits both alike:
  off: CONTEXTIQ_METRICS_ENABLED=false, CONTEXTIQ_LOG_LEVEL=WARNING (no per-request line)
  on:  the defaults, histograms per route and status, one JSON log line per request
The request-id header is set in both (the middleware always runs). wrk drives
`GET /recommendations` for random users with every list cached first: the cheapest real
request, where a fixed per-request cost shows most. Server logs go to this process's stderr.
"""

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from contextiq.config import Settings
from contextiq.observability.logs import configure_logging
from contextiq.observability.middleware import ObservabilityMiddleware
from loadgen import BIN, WrkResult, free_port, print_ratio_table, process, wrk
from serve import RANDOM_USER, bootstrapped_demo, env_for, visit_every_user

CONFIGS = {
    "off": {"CONTEXTIQ_METRICS_ENABLED": "false", "CONTEXTIQ_LOG_LEVEL": "WARNING"},
    "on": {"CONTEXTIQ_METRICS_ENABLED": "true", "CONTEXTIQ_LOG_LEVEL": "INFO"},
}


ASGI_REQUESTS = 20_000
ASGI_CONFIGS: dict[str, tuple[bool, bool, str]] = {
    # name: (middleware, metrics, log level)
    "bare endpoint": (False, False, "WARNING"),
    "+ request id": (True, False, "WARNING"),
    "+ request id, histogram": (True, True, "WARNING"),
    "+ request id, histogram, JSON access line": (True, True, "INFO"),
}


def _ping_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


async def _drive(app: ASGIApp, n: int) -> float:
    """CPU seconds per request for `n` sequential GET /ping calls straight through ASGI."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/ping",
        "raw_path": b"/ping",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    started = time.process_time()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.process_time() - started) / n


def asgi_costs(rounds: int) -> dict[str, float]:
    """Best-of-rounds CPU microseconds per request for each configuration."""
    best = {name: float("inf") for name in ASGI_CONFIGS}
    stderr = sys.stderr
    with tempfile.TemporaryFile("w") as log_file:
        try:
            sys.stderr = log_file  # the access lines go to a file, as in a container
            for _ in range(rounds):
                for name, (middleware, metrics, level) in ASGI_CONFIGS.items():
                    configure_logging(Settings(log_format="json", log_level=level))
                    app: ASGIApp = _ping_app()
                    if middleware:
                        app = ObservabilityMiddleware(app, metrics=metrics)
                    seconds = asyncio.run(_drive(app, ASGI_REQUESTS))
                    best[name] = min(best[name], seconds * 1e6)
        finally:
            sys.stderr = stderr
            logging.getLogger().handlers.clear()
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--in-process-only", action="store_true", help="skip the HTTP runs")
    args = parser.parse_args()
    costs = asgi_costs(args.rounds)
    bare = costs["bare endpoint"]
    print(f"\nIn process, best of {args.rounds} x {ASGI_REQUESTS:,} requests (CPU time)\n")
    print("| GET /ping through ASGI | CPU us/request | added us |")
    print("|---|---:|---:|")
    for name, cost in costs.items():
        print(f"| {name} | {cost:.1f} | {cost - bare:+.1f} |")
    if args.in_process_only:
        return
    root = bootstrapped_demo()
    results: dict[str, list[WrkResult]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, extra in CONFIGS.items():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {**env_for(root, port, 300), "CONTEXTIQ_LOG_FORMAT": "json", **extra}
            with process([str(BIN / "contextiq"), "serve"], env, f"{url}/api/v1/health"):
                visit_every_user(url)
                results[name].append(
                    wrk(url, RANDOM_USER, seconds=args.seconds, connections=args.connections)
                )

    header = f"\n{args.connections} connections, {args.seconds}s x {args.rounds} rounds each\n"
    print_ratio_table(results, "off", "metrics and request logs", header)


if __name__ == "__main__":
    main()
