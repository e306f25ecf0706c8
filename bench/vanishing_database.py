"""A PostgreSQL server that leaves the network without a reset: how long a call on one of the
store's connections waits, with the engine's TCP bounds (`DEAD_PEER_SECONDS`) and without.

A forwarding proxy on a free loopback port stands between the store and the server; an
iptables rule then drops every packet sent to that port (a failover that moved the address,
a host that died), which sends no reset, unlike a stopped server. Only the proxy's traffic is
dropped. Each case: the call that waits on the vanished server (until it fails, or `--cap`
seconds), then, the rule removed, the next call on the same store. Last, a query of
`--long` seconds on a healthy server, to show the probes cut no long query. Needs root and
`iptables`:

    .venv/bin/python bench/vanishing_database.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

import argparse
import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from contextiq.store import engine as engines
from contextiq.store.store import Store
from contextiq.store.transient import is_transient


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


class Proxy:
    """Forwards each connection to the server: the port the rule drops."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> "Proxy":
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()

    async def _forward(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))


@contextmanager
def dropped(port: int) -> Iterator[None]:
    rule = ["INPUT", "-p", "tcp", "-i", "lo", "--dport", str(port), "-j", "DROP"]
    subprocess.run(["iptables", "-I", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True)


async def one_case(url: str, bounded: bool, cap: float) -> None:
    store = Store(url)
    if not bounded:  # the engine as it was before the bounds
        event.remove(store.engine.sync_engine, "connect", engines._drop_dead_peers)
    try:
        await store.ping()
        started = time.monotonic()
        with dropped(make_url(url).port or 5432):
            try:
                async with asyncio.timeout(cap):
                    await store.ping()
                outcome = "answered"
            except TimeoutError:
                outcome = f"still waiting at the cap ({cap:.0f} s)"
            except Exception as exc:  # the bound: the connection is dropped
                kind = "transient, retried" if is_transient(exc) else "NOT transient"
                outcome = f"failed ({type(exc).__name__}: {kind})"
        waited = time.monotonic() - started
        started = time.monotonic()
        await store.ping()
        again = time.monotonic() - started
        label = "with the bounds" if bounded else "without (baseline)"
        print(f"{label:20} {outcome:55} after {waited:6.1f} s; next call {again * 1000:.0f} ms")
    finally:
        await store.close()


async def long_query(url: str, seconds: float) -> None:
    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            await store.lift_statement_timeout(conn)
            started = time.monotonic()
            await conn.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
            took = time.monotonic() - started
            print(f"a {seconds:.0f} s query with the bounds: answered in {took:.1f} s")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--cap", type=float, default=120.0, help="longest wait measured, s")
    parser.add_argument("--long", type=float, default=2.0 * engines.DEAD_PEER_SECONDS)
    args = parser.parse_args()
    server = make_url(args.database_url)
    async with Proxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        url = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        print(f"DEAD_PEER_SECONDS = {engines.DEAD_PEER_SECONDS}")
        await one_case(url, bounded=False, cap=args.cap)
        await one_case(url, bounded=True, cap=args.cap)
        await long_query(url, args.long)


if __name__ == "__main__":
    asyncio.run(main())
