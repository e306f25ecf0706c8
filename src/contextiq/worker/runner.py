"""`contextiq worker`: consume events and retrain, in a process of its own."""

import asyncio
import logging
import signal

from contextiq.config import Settings
from contextiq.observability.logs import configure_logging
from contextiq.observability.setup import serve_worker_metrics
from contextiq.security.redact import install_redaction
from contextiq.services import build_services
from contextiq.store.migrate import upgrade_async

log = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    configure_logging(settings)
    metrics_server = serve_worker_metrics(settings)
    if settings.migrate_on_start:
        await upgrade_async(settings.database_url)
    install_redaction(settings)
    services = build_services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await services.start(relay=False, consume=True, watch_models=True)
    log.info("worker consuming from %s", services.bus.backend)
    try:
        await stop.wait()
    finally:
        await services.stop()
        if metrics_server is not None:
            metrics_server.shutdown()
