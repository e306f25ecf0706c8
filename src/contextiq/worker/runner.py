"""`contextiq worker`: consume events and retrain, in a process of its own.

`contextiq serve --workers N` runs the same here for its N request processes: the relay,
and on the in-process bus the consumer and retraining, once per host rather than N times.
"""

import asyncio
import ctypes
import logging
import signal

from contextiq.config import Settings
from contextiq.observability.heartbeat import Heartbeat
from contextiq.observability.logs import configure_logging
from contextiq.observability.setup import serve_worker_port
from contextiq.security.redact import install_redaction
from contextiq.services import build_services
from contextiq.store.migrate import upgrade_async

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings, *, api_duties: bool = False, beats_into: ctypes.c_double | None = None
) -> None:
    """`api_duties`: what a lone API process would run itself (relay, embedded consumer).
    `beats_into`: shared memory where its heartbeat goes, for the process that watches it."""
    configure_logging(settings)
    # Under `serve --workers N` this process's metrics reach /metrics through the shared
    # multiprocess directory, and `serve` reads its heartbeat (`beats_into`); a worker of its
    # own serves both on its port, from the first second (migrations may take minutes).
    heartbeat = Heartbeat(cell=beats_into)
    beats = asyncio.create_task(heartbeat.run())
    port_server = None if api_duties else serve_worker_port(settings, heartbeat)
    if settings.migrate_on_start:
        await upgrade_async(settings.database_url)
    install_redaction(settings)
    services = build_services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    consume = services.bus.backend == "local" if api_duties else True
    await services.start(relay=api_duties, consume=consume, serves_requests=False)
    if consume:
        log.info("worker consuming from %s", services.bus.backend)
    if api_duties:
        log.info("relaying the outbox for the serving processes")
    try:
        await stop.wait()
    finally:
        await services.stop()
        beats.cancel()
        if port_server is not None:
            port_server.shutdown()
            port_server.server_close()
