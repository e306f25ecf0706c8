"""The FastAPI application: routers, error shape, lifespan, and the built web UI at `/`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from contextiq import __version__
from contextiq.api.errors import documented, install_error_handlers
from contextiq.api.routers import (
    audit,
    content,
    experiments,
    health,
    impressions,
    interactions,
    models,
    online_metrics,
    recommendations,
    rules,
    sessions,
    users,
)
from contextiq.config import Settings, get_settings
from contextiq.observability.logs import configure_logging
from contextiq.observability.setup import install_observability
from contextiq.security.install import install_security
from contextiq.services import Services, build_services
from contextiq.store.migrate import upgrade_async

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(
    settings: Settings, *, embedded_worker: bool | None = None, relay: bool = True
) -> FastAPI:
    """`embedded_worker` defaults to on for the in-process bus, off for Kafka."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        if settings.migrate_on_start:
            await upgrade_async(settings.database_url)
        services: Services = build_services(settings)
        consume = services.bus.backend == "local" if embedded_worker is None else embedded_worker
        if not consume:  # else nothing says why profiles and retraining never move
            log.info(
                "events go to %s: a `contextiq worker` applies them and trains (this process"
                " does neither)",
                services.bus.backend,
            )
        await services.start(relay=relay, consume=consume, serves_requests=True)
        app.state.services = services
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="Context IQ",
        version=__version__,
        description="Personalized, explainable content recommendations.",
        lifespan=lifespan,
        responses=documented(400, 422),
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Admin-Key",
                "X-Request-ID",
            ],
        )
    for module in (
        health,
        interactions,
        recommendations,
        users,
        sessions,
        content,
        models,
        audit,
        impressions,
        online_metrics,
        experiments,
        rules,
    ):
        app.include_router(module.router, prefix="/api/v1")
    install_security(app, settings)
    install_observability(app, settings)
    if (STATIC_DIR / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    return app


def serving_app() -> FastAPI:
    """One process of `contextiq serve --workers N`: requests only.

    The outbox relay and the embedded worker run once per host, in a process of their own
    (`contextiq serve` starts it), not once in each of the N.
    """
    return create_app(get_settings(), embedded_worker=False, relay=False)
