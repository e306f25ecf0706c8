"""Request throughput and latency of the API on the demo data, against a bare FastAPI endpoint.

    .venv/bin/python bench/serve.py [--seconds 10] [--connections 32]

Starts, on loopback: a bare FastAPI app (the baseline), Context IQ with its cache on,
Context IQ with its cache off (every recommendation request is a miss), and the same with
the local language model rescoring the top 20 (its score cache warmed first). Each is one
uvicorn worker; wrk runs with one thread on the other core.
"""

import argparse
import tempfile
from pathlib import Path

import httpx

from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from loadgen import BIN, free_port, process, wrk

USERS = 500
RANDOM_USER = f"""
math.randomseed(7)
request = function()
  local user = string.format("user_%03d", math.random({USERS}))
  return wrk.format("GET", "/api/v1/recommendations?limit=10&user_id=" .. user)
end
"""
INTERACT = """
math.randomseed(11)
local kinds = {"view", "like", "save", "share", "skip"}
request = function()
  local body = string.format(
    '{"user_id":"user_%03d","content_id":"content_%04d","interaction_type":"%s"}',
    math.random(500), math.random(2000), kinds[math.random(5)])
  return wrk.format("POST", "/api/v1/interact", {["Content-Type"]="application/json"}, body)
end
"""


def visit_every_user(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for n in range(1, USERS + 1):
            client.get("/api/v1/recommendations", params={"user_id": f"user_{n:03d}", "limit": 10})


def env_for(root: Path, port: int, ttl: int, llm: str = "none://") -> dict[str, str]:
    return {
        "CONTEXTIQ_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'db.sqlite'}",
        "CONTEXTIQ_MODEL_DIR": str(root / "models"),
        "CONTEXTIQ_LLM_URL": llm,
        "CONTEXTIQ_PORT": str(port),
        "CONTEXTIQ_CACHE_TTL_SECONDS": str(ttl),
        "CONTEXTIQ_RETRAIN_EVERY_EVENTS": "0",
    }


def bootstrapped_demo() -> Path:
    """A temporary folder holding the demo data and a trained model, as every scenario uses."""
    root = Path(tempfile.mkdtemp(prefix="contextiq-bench-"))
    bootstrap(
        Settings(
            _env_file=None,
            database_url=env_for(root, 0, 300)["CONTEXTIQ_DATABASE_URL"],
            model_dir=root / "models",
        ),
        print,
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    run = {"seconds": args.seconds, "connections": args.connections}
    rows = []
    root = bootstrapped_demo()

    port = free_port()
    uvicorn = [str(BIN / "uvicorn"), "bare_app:app", "--app-dir", "bench", "--port", str(port)]
    with process([*uvicorn, "--log-level", "warning"], {}, f"http://127.0.0.1:{port}/ping"):
        base = wrk(f"http://127.0.0.1:{port}/ping", **run)
    rows.append(("bare FastAPI GET /ping (baseline)", base))

    for ttl in (300, 0):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(BIN / "contextiq"), "serve"]
        with process(command, env_for(root, port, ttl), f"{url}/api/v1/health"):
            if ttl:
                visit_every_user(url)  # every user's list is cached before measuring
                rows.append(("GET /recommendations, cache hit", wrk(url, RANDOM_USER, **run)))
                rows.append(("POST /interact", wrk(url, INTERACT, **run)))
            else:
                rows.append(("GET /recommendations, cache miss", wrk(url, RANDOM_USER, **run)))

    # The local language model on, its score cache warmed by a first pass over every user.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "contextiq"), "serve"]
    with process(command, env_for(root, port, 0, "local://"), f"{url}/api/v1/health"):
        for _ in range(2):  # the first pass starts the scoring, the second finds it cached
            visit_every_user(url)
        rows.append(("GET /recommendations, cache miss, local LLM", wrk(url, RANDOM_USER, **run)))

    print(f"\n{USERS} users, 2,000 items, {args.connections} connections, {args.seconds}s each\n")
    print("| scenario | requests/s | vs baseline | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r.rps:,.0f} | {r.rps / base.rps:.2f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.errors} |"
        )


if __name__ == "__main__":
    main()
