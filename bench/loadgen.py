"""Shared benchmark plumbing: free ports, server processes, and wrk runs on loopback."""

import asyncio
import gc
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not come up")


@contextmanager
def process(
    args: list[str], env: dict[str, str], ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_ready(ready_url)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, lua: str | None = None, seconds: int = 10, connections: int = 32) -> WrkResult:
    """One wrk thread: the other core is left to the server under test."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if lua:
            script.write(lua)
            script.flush()
            args[1:1] = ["-s", script.name]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if not re.search(r"99%\s+[\d.]+\w", out):
        raise RuntimeError(f"wrk gave no latency figures:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored: a thread-stats column such as "87.50%" also ends in "50%".
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return WrkResult(rps, p50, p99, errors)


class Connection:
    """One keep-alive HTTP/1.1 connection: a GET costs a write and two reads, nothing more.

    httpx spends more CPU per request than the server under test does on a hit, and the
    load generator shares the machine's two cores with it.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        return int(head[9:12]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in the load generator while it measures.

    Its full collections (42.7 ms measured, over the bodies it keeps) froze the schedule, and
    every request due meanwhile was counted late: the client's pause read as the server's
    latency. The requests' objects are freed by reference counting all the same.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class Latencies:
    """Per-request latencies in ms (paced: from each request's scheduled send time)."""

    ms: list[float]
    errors: int
    seconds: float
    bodies: list[bytes]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0

    @property
    def rps(self) -> float:
        return len(self.ms) / self.seconds


async def paced(port: int, paths: list[str], rate: float, connections: int = 64) -> Latencies:
    """Send `paths` on a fixed schedule of `rate` per second, whatever the server does.

    Latency runs from the scheduled time, so a request that waits for a free connection
    counts its wait (no coordinated omission); the pool grows up to `connections`.
    """
    with collector_paused():
        return await _paced(port, paths, rate, connections)


async def _paced(port: int, paths: list[str], rate: float, connections: int) -> Latencies:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    ms: list[float] = []
    bodies: list[bytes] = []
    errors = 0
    start = loop.time() + 0.1

    async def one(path: str, due: float) -> None:
        nonlocal errors
        connection = await idle.get()
        try:
            status, body = await connection.get(path)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            idle.put_nowait(await Connection.open(port))
            return
        idle.put_nowait(connection)
        if status != 200:
            errors += 1
            return
        ms.append((loop.time() - due) * 1000)
        bodies.append(body)

    tasks = []
    for n, path in enumerate(paths):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(path, due)))
    await asyncio.gather(*tasks)
    seconds = loop.time() - start
    while not idle.empty():
        idle.get_nowait().close()
    return Latencies(ms, errors, seconds, bodies)


async def closed_loop(port: int, paths: list[str], connections: int, seconds: float) -> Latencies:
    """`connections` clients each sending the next path as soon as the last answer arrived."""
    with collector_paused():
        return await _closed_loop(port, paths, connections, seconds)


async def _closed_loop(port: int, paths: list[str], connections: int, seconds: float) -> Latencies:
    loop = asyncio.get_running_loop()
    queue = iter(paths)
    ms: list[float] = []
    errors = 0
    start = loop.time()
    deadline = start + seconds

    async def client() -> None:
        nonlocal errors
        connection = await Connection.open(port)
        try:
            while loop.time() < deadline and (path := next(queue, None)) is not None:
                sent = loop.time()
                status, _ = await connection.get(path)
                if status == 200:
                    ms.append((loop.time() - sent) * 1000)
                else:
                    errors += 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return Latencies(ms, errors, loop.time() - start, [])


def print_ratio_table(
    results: dict[str, list[WrkResult]], baseline: str, what: str, header: str
) -> None:
    """A markdown table of wrk rounds per configuration, each as a ratio to `baseline`."""
    base_rps = sum(r.rps for r in results[baseline]) / len(results[baseline])
    print(header)
    print(f"| {what} | requests/s (mean) | vs {baseline} | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        rps = sum(r.rps for r in runs) / len(runs)
        p50 = sum(r.p50_ms for r in runs) / len(runs)
        p99 = sum(r.p99_ms for r in runs) / len(runs)
        errors = sum(r.errors for r in runs)
        print(f"| {name} | {rps:,.0f} | {rps / base_rps:.3f} | {p50:.2f} | {p99:.2f} | {errors} |")
        print(f"|   rounds: {', '.join(f'{r.rps:,.0f}' for r in runs)} | | | | | |")
