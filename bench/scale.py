"""The whole path at real size: generate, migrate, import, train, then serve under load.

    .venv/bin/python bench/scale.py --root /tmp/scale [--stages files,import,train,serve]
        [--items 100000 --users 200000 --interactions 5000000] [--workers 1]
        [--cache-url redis://127.0.0.1:6379/0] [--rate 200] [--seconds 30]

Each stage runs the `contextiq` command a user would, timed (wall, peak RSS of the process
tree's largest member); the import with the default `local://` language model, so it includes
the item vectors it computes for `--vector-seconds`. The serve stage starts `contextiq serve`
and measures: RSS and PSS of every serving process after start; uncached GET /recommendations
(a user not asked for before on every request) at a paced rate, latency from the scheduled
send time; the same in a closed loop of 64 connections; cached GET /recommendations against
GET /health in a closed loop with wrk; and, with `--llm` (local://), the share of uncached
answers carrying language-model scores at the paced rate. The load generator
(bench/loadgen.py, asyncio streams) and wrk share the machine with the server.
"""

import argparse
import asyncio
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from contextiq.llm.local import CATEGORY_REASON
from loadgen import BIN, ROOT, Latencies, closed_loop, free_port, paced, wait_ready, wrk

CONTEXTIQ = str(BIN / "contextiq")
HEALTH = "/api/v1/health"


def timed(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of one command, as `time -v` reports them."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{' '.join(args)} failed with status {status}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": usage.ru_maxrss // 1024,
    }


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory(pid: int) -> dict[str, Any]:
    """RSS counts shared model pages in every process; PSS splits them among the sharers."""
    status = Path(f"/proc/{pid}/status").read_text()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    rss = int(status.split("VmRSS:")[1].split()[0]) // 1024
    pss = int(rollup.split("\nPss:")[1].split()[0]) // 1024
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
    return {"pid": pid, "rss_mb": rss, "pss_mb": pss, "command": command}


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU of a server's processes so far, by pid (survives a loaded machine)."""
    found = {}
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[p] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def measured(pid: int, run: Any) -> tuple[dict[str, Any], Latencies]:
    """`summary` of a load run, with the server's CPU milliseconds per answered request.

    Also per process: with `--workers N` the one running the embedded worker (and its
    background duties) is told apart from the request processes.
    """
    before = cpu_seconds(pid)
    result = run()
    after = cpu_seconds(pid)
    answered = max(1, len(result.ms))
    used = {p: after[p] - before.get(p, 0.0) for p in after}
    return summary(result) | {
        "server_cpu_ms_per_request": round(1000 * sum(used.values()) / answered, 2),
        "cpu_ms_per_request_by_process": {
            str(p): round(1000 * seconds / answered, 2) for p, seconds in used.items()
        },
    }, result


class Server:
    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        args = [CONTEXTIQ, "serve", "--port", str(self.port), "--workers", str(workers)]
        with log.open("ab") as out:  # one access line per request: kept out of the report
            self.proc = subprocess.Popen(
                args, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=out
            )
        wait_ready(f"http://127.0.0.1:{self.port}{HEALTH}", timeout=900)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def summary(result: Latencies) -> dict[str, Any]:
    return {
        "requests": len(result.ms),
        "errors": result.errors,
        "rps": round(result.rps, 1),
        "p50_ms": round(result.percentile(50), 1),
        "p99_ms": round(result.percentile(99), 1),
    }


def llm_share(bodies: list[bytes]) -> dict[str, float]:
    answers = [json.loads(b) for b in bodies]
    personal = [a for a in answers if a["personalized"]]
    scored = [a for a in personal if any(i["llm_score"] is not None for i in a["items"])]
    items = [i for a in personal for i in a["items"]]
    return {
        "answers": len(answers),
        "personalized": len(personal),
        "with_llm_scores": len(scored),
        "share": round(len(scored) / max(1, len(personal)), 3),
        "items_with_llm_scores": round(
            sum(i["llm_score"] is not None for i in items) / max(1, len(items)), 3
        ),
        # scored by their category's mean vector: the item had no stored vector yet
        "items_with_category_scores": round(
            sum(i["reason"].startswith(CATEGORY_REASON) for i in items) / max(1, len(items)), 3
        ),
    }


def recommend_paths(users: list[str]) -> list[str]:
    return [f"/api/v1/recommendations?user_id={u}&limit=10" for u in users]


def cached_lua(users: list[str]) -> str:
    listed = ",".join(f'"{u}"' for u in users)
    return f"""
local users = {{{listed}}}
local n = 0
request = function()
  n = n % #users + 1
  return wrk.format("GET", "/api/v1/recommendations?limit=10&user_id=" .. users[n])
end
"""


def serve_stage(args: argparse.Namespace, env: dict[str, str], users: list[str]) -> dict[str, Any]:
    fresh = iter(users)

    def take(n: int) -> list[str]:
        return [next(fresh) for _ in range(n)]

    out: dict[str, Any] = {}
    log = args.root / "serve.log"
    server = Server(env, args.workers, log)
    try:
        time.sleep(5)
        out["memory"] = [memory(p) for p in descendants(server.proc.pid)]
        port = server.port
        n = int(args.rate * args.seconds)
        pid = server.proc.pid
        out["paced_uncached"], _ = measured(
            pid, lambda: asyncio.run(paced(port, recommend_paths(take(n)), args.rate))
        )
        out["closed_uncached_64"], _ = measured(
            pid,
            lambda: asyncio.run(closed_loop(port, recommend_paths(take(40_000)), 64, args.seconds)),
        )
        print(json.dumps(out), file=sys.stderr, flush=True)  # kept should a later step fail
        warm = take(200)
        asyncio.run(closed_loop(port, recommend_paths(warm), 8, 120))
        url = f"http://127.0.0.1:{port}"
        health = wrk(url + HEALTH, seconds=args.seconds, connections=64)
        cached = wrk(
            url + "/api/v1/recommendations", cached_lua(warm), args.seconds, connections=64
        )
        out["closed_health_64"] = health.__dict__
        out["closed_cached_64"] = cached.__dict__
        out["cached_to_health"] = round(cached.rps / health.rps, 2)
    finally:
        server.stop()
    if args.llm:
        server = Server({**env, "CONTEXTIQ_LLM_URL": "local://"}, args.workers, log)
        try:
            time.sleep(10)  # the category means load in the background after start
            out["memory_llm"] = [memory(p) for p in descendants(server.proc.pid)]
            paths = recommend_paths(take(n))
            figures, result = measured(
                server.proc.pid, lambda: asyncio.run(paced(server.port, paths, args.rate))
            )
            out["paced_uncached_llm"] = figures | {"llm": llm_share(result.bodies)}
        finally:
            server.stop()
    return out


def user_ids(path: Path, seed: int) -> list[str]:
    with path.open(newline="") as f:
        ids = list(dict.fromkeys(row[0] for row in csv.reader(f) if row and row[0] != "user_id"))
    random.Random(seed).shuffle(ids)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--stages", default="files,import,train,serve")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--interactions", type=int, default=5_000_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite under --root")
    parser.add_argument("--cache-url", default="memory://")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--llm", action="store_true", help="also measure local:// rescoring")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    files = root / "files"
    env = {
        "CONTEXTIQ_DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{root / 'db.sqlite'}",
        "CONTEXTIQ_MODEL_DIR": str(root / "models"),
        "CONTEXTIQ_CACHE_URL": args.cache_url,
        "CONTEXTIQ_LLM_URL": "none://",
        "CONTEXTIQ_RETRAIN_EVERY_EVENTS": "0",
        "CONTEXTIQ_RETRAIN_EVERY_SECONDS": "0",
    }
    stages = args.stages.split(",")
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    size = ["--items", str(args.items), "--users", str(args.users)]
    if "files" in stages:
        report["files"] = timed(
            [
                CONTEXTIQ,
                "seed",
                "--demo",
                *size,
                "--interactions",
                str(args.interactions),
                "--output-dir",
                str(files),
            ],
            env,
        )
    if "import" in stages:
        report["migrate"] = timed([CONTEXTIQ, "migrate"], env)
        report["import"] = timed(
            [
                CONTEXTIQ,
                "import",
                "files",
                "--content",
                str(files / "content.csv"),
                "--interactions",
                str(files / "interactions.csv"),
            ],
            # As a user's default import: the language model on, so its item vectors for the
            # most popular items are computed (and timed) too, and `--llm` finds them.
            {**env, "CONTEXTIQ_LLM_URL": "local://"},
        )
    if "train" in stages:
        report["train"] = timed([CONTEXTIQ, "train"], env)
    if "serve" in stages:
        report["serve"] = serve_stage(args, env, user_ids(files / "interactions.csv", 7))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
