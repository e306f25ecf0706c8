"""A PostgreSQL server that leaves the network without a reset (a failover that moved its
address, a host that died) fails the calls on its connections within `DEAD_PEER_SECONDS`.

Dropping packets needs root and a firewall, so the outage itself is measured by
`bench/vanishing_database.py` (docs/benchmarks.md, "A database that vanishes"); here, that
every connection the engine opens carries the bound.
"""

import socket

from sqlalchemy import text

from contextiq.store.engine import DEAD_PEER_SECONDS, create_engine
from tests.integration.conftest import ADMIN_URL, POSTGRES_HOST, POSTGRES_PORT, require


async def test_every_postgresql_connection_bounds_its_silence() -> None:
    # Old code set nothing: a call on a vanished server waited for the kernel's
    # retransmissions to give up, about 15 minutes (the bench's baseline).
    require(POSTGRES_HOST, POSTGRES_PORT, "PostgreSQL")
    engine = create_engine(ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            raw = await conn.get_raw_connection()
            sock = raw.driver_connection._transport.get_extra_info("socket")  # type: ignore[union-attr]
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 10
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
            timeout_ms = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
            assert timeout_ms == DEAD_PEER_SECONDS * 1000
    finally:
        await engine.dispose()
