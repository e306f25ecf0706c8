"""What metrics and request logs cost: the cache-hit path with them on and off, in one run.

    .venv/bin/python bench/observability.py [--seconds 10] [--connections 32] [--rounds 2]

Starts `contextiq serve` on the demo data (one uvicorn worker, embedded defaults) in two
configurations, alternating `--rounds` times so drift in the machine's load hits both alike:
  off: CONTEXTIQ_METRICS_ENABLED=false, CONTEXTIQ_LOG_LEVEL=WARNING (no per-request line)
  on:  the defaults, histograms per route and status, one JSON log line per request
The request-id header is set in both (the middleware always runs). wrk drives
`GET /recommendations` for random users with every list cached first: the cheapest real
request, where a fixed per-request cost shows most. Server logs go to this process's stderr.
"""

import argparse

from loadgen import BIN, WrkResult, free_port, process, wrk
from serve import RANDOM_USER, bootstrapped_demo, env_for, visit_every_user

CONFIGS = {
    "off": {"CONTEXTIQ_METRICS_ENABLED": "false", "CONTEXTIQ_LOG_LEVEL": "WARNING"},
    "on": {"CONTEXTIQ_METRICS_ENABLED": "true", "CONTEXTIQ_LOG_LEVEL": "INFO"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
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

    off_rps = sum(r.rps for r in results["off"]) / args.rounds
    print(f"\n{args.connections} connections, {args.seconds}s x {args.rounds} rounds each\n")
    print("| metrics and request logs | requests/s (mean) | vs off | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        rps = sum(r.rps for r in runs) / len(runs)
        p50 = sum(r.p50_ms for r in runs) / len(runs)
        p99 = sum(r.p99_ms for r in runs) / len(runs)
        errors = sum(r.errors for r in runs)
        print(f"| {name} | {rps:,.0f} | {rps / off_rps:.3f} | {p50:.2f} | {p99:.2f} | {errors} |")
        print(f"|   rounds: {', '.join(f'{r.rps:,.0f}' for r in runs)} | | | | | |")


if __name__ == "__main__":
    main()
