"""The one call that secures an app: route access checked, middleware on, logs scrubbed."""

from fastapi import FastAPI

from contextiq.config import Settings
from contextiq.security.access import secure_routes
from contextiq.security.middleware import SecurityMiddleware
from contextiq.security.redact import install_redaction


def install_security(app: FastAPI, settings: Settings) -> None:
    """Call after every router is included: a route without a declared access stops the app."""
    install_redaction(settings)
    secure_routes(app)
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.max_body_bytes)
