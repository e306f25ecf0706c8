"""A server that requires credentials, with stored keys and a JWT secret, for the security tests."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from contextiq.security import KeyRing, Role
from contextiq.store.store import Store
from tests.conftest import embedded_settings

JWT_SECRET = "a-test-secret-of-at-least-32-bytes!!"
ISSUER = "https://id.example.test/"
AUDIENCE = "contextiq-test"
USER = "u1"
OTHER = "u2"


def token(subject: str, *, expires_in: float = 300, **claims: Any) -> str:
    payload = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + expires_in}
    payload.update(claims)
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def create_key(settings: Settings, name: str, role: Role) -> str:
    async def make() -> str:
        store = Store(settings.database_url)
        try:
            return await KeyRing(store).create(name, role)
        finally:
            await store.close()

    return asyncio.run(make())


def secured_settings(root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "auth_required": True,
        "jwt_secret": JWT_SECRET,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
    }
    values.update(overrides)
    return embedded_settings(root, **values)


@dataclass
class Secured:
    client: TestClient
    settings: Settings
    client_key: str
    admin_key: str


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    settings = secured_settings(tmp_path_factory.mktemp("secured"))
    bootstrap(settings, lambda _: None, demo_items=60, demo_users=12)
    client_key = create_key(settings, "app", Role.CLIENT)
    admin_key = create_key(settings, "ops", Role.ADMIN)
    with TestClient(create_app(settings)) as client:
        yield Secured(client, settings, client_key, admin_key)
