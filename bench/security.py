"""What authentication and rate limiting cost on the cheapest real request, in one run.

    .venv/bin/python bench/security.py [--seconds 10] [--connections 32] [--rounds 2]

Starts `contextiq serve` on the demo data (one uvicorn worker, embedded defaults) in four
configurations, alternating `--rounds` times so drift in the machine's load hits all alike:
  open:        auth off, no credentials sent, no rate limit (the embedded default)
  key:         CONTEXTIQ_AUTH_REQUIRED=true, a stored client key sent as a bearer key
  token:       the same, each request carrying its user's own JWT (HS256, verified per request)
  key + limit: a stored key and CONTEXTIQ_RATE_LIMIT (in memory) set too high to refuse anything
wrk drives `GET /recommendations` for random users with every list cached first, where a fixed
per-request cost shows most.
"""

import argparse
import asyncio
import time

import httpx
import jwt

from contextiq.security import KeyRing, Role
from contextiq.store.store import Store
from loadgen import BIN, WrkResult, free_port, print_ratio_table, process, wrk
from serve import RANDOM_USER, USERS, bootstrapped_demo, env_for

SECRET = "bench-secret-of-at-least-32-bytes-long"
ISSUER, AUDIENCE = "https://id.bench/", "contextiq-bench"


def lua(credentials: list[str]) -> str:
    """Random users, each request sending the credential at that user's position."""
    table = ",".join(f'"{c}"' for c in credentials)
    return f"""
math.randomseed(7)
local credentials = {{{table}}}
request = function()
  local n = math.random({USERS})
  local path = string.format("/api/v1/recommendations?limit=10&user_id=user_%03d", n)
  return wrk.format("GET", path, {{["Authorization"] = "Bearer " .. credentials[n]}})
end
"""


def visit_every_user(url: str, credentials: list[str]) -> None:
    """Every user's list is cached before measuring."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for n in range(1, USERS + 1):
            headers = {"Authorization": f"Bearer {credentials[n - 1]}"} if credentials else {}
            response = client.get(
                "/api/v1/recommendations",
                params={"user_id": f"user_{n:03d}", "limit": 10},
                headers=headers,
            )
            response.raise_for_status()


def stored_key(database_url: str) -> str:
    async def create() -> str:
        store = Store(database_url)
        try:
            return await KeyRing(store).create("bench", Role.CLIENT)
        finally:
            await store.close()

    return asyncio.run(create())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    root = bootstrapped_demo()
    key = stored_key(env_for(root, 0, 300)["CONTEXTIQ_DATABASE_URL"])
    expires = time.time() + 86_400
    tokens = [
        jwt.encode(
            {"sub": f"user_{n:03d}", "iss": ISSUER, "aud": AUDIENCE, "exp": expires},
            SECRET,
            algorithm="HS256",
        )
        for n in range(1, USERS + 1)
    ]
    secured = {
        "CONTEXTIQ_AUTH_REQUIRED": "true",
        "CONTEXTIQ_JWT_SECRET": SECRET,
        "CONTEXTIQ_JWT_ISSUER": ISSUER,
        "CONTEXTIQ_JWT_AUDIENCE": AUDIENCE,
    }
    configs = {
        "open": ({}, []),
        "key": (secured, [key] * USERS),
        "token": (secured, tokens),
        "key + limit": ({**secured, "CONTEXTIQ_RATE_LIMIT": "1000000/second"}, [key] * USERS),
    }
    results: dict[str, list[WrkResult]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, (extra, credentials) in configs.items():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {**env_for(root, port, 300), **extra}
            with process([str(BIN / "contextiq"), "serve"], env, f"{url}/api/v1/health"):
                visit_every_user(url, credentials)
                script = lua(credentials) if credentials else RANDOM_USER
                results[name].append(
                    wrk(url, script, seconds=args.seconds, connections=args.connections)
                )

    header = f"\n{args.connections} connections, {args.seconds}s x {args.rounds} rounds each\n"
    print_ratio_table(results, "open", "credentials", header)


if __name__ == "__main__":
    main()
