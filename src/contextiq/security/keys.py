"""API keys kept hashed: `ciq_<key id>_<secret>`.

The key id finds the row; the secret's SHA-256 is compared in constant time. The secret is 256
random bits, so a slow password hash would buy nothing and cost every request. Replicas keep
what they looked up for `cache_seconds`, so a revocation (from any process) holds everywhere
within that time, without a restart.
"""

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from contextiq.domain import as_utc
from contextiq.security.principal import KEY_ROLES, Role
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import ApiKeyRow

KEY_PREFIX = "ciq"
#: Matched whole (`fullmatch`): `$` would also let a trailing newline through.
_KEY = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_\-]{{43}})")
_MAX_CACHED = 10_000


class KeyRefused(ValueError):
    """A key operation that cannot be done (a taken name, an unknown role)."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    name: str
    role: Role
    key_id: str
    created_at: datetime
    revoked_at: datetime | None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its id."""
    key_id = secrets.token_hex(6)
    return f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}", key_id


def _stored(row: ApiKeyRow) -> StoredKey:
    return StoredKey(
        name=row.name,
        role=Role(row.role),
        key_id=row.key_id,
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


class KeyRing:
    def __init__(self, store: Store, cache_seconds: float = 5.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, tuple[str, StoredKey] | None]] = {}

    async def create(self, name: str, role: Role) -> str:
        """Store a new key; returns it (the only time it is ever seen)."""
        if role not in KEY_ROLES:
            raise KeyRefused(f"a key's role is one of {', '.join(KEY_ROLES)}")
        key, key_id = new_key()
        secret = key.split("_", 2)[2]
        row = ApiKeyRow(
            name=name,
            key_id=key_id,
            secret_hash=hash_secret(secret),
            role=role.value,
            created_at=utcnow(),
            revoked_at=None,
        )
        try:
            async with self.store.sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise KeyRefused(f"a key named {name!r} exists already") from exc
        return key

    async def all(self) -> list[StoredKey]:
        async with self.store.sessions() as session:
            rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            return [_stored(r) for r in rows]

    async def any_active(self, role: Role) -> bool:
        async with self.store.sessions() as session:
            found = await session.scalar(
                select(ApiKeyRow.name)
                .where(ApiKeyRow.role == role.value, ApiKeyRow.revoked_at.is_(None))
                .limit(1)
            )
        return found is not None

    async def revoke(self, name: str) -> bool:
        """False when no live key has that name."""
        async with self.store.sessions.begin() as session:
            result = await session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        self._cache.clear()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def verify(self, key: str) -> StoredKey | None:
        """The live stored key this is, else None."""
        match = _KEY.fullmatch(key)
        if match is None:
            return None
        key_id, secret = match.groups()
        found = await self._lookup(key_id)
        if found is None:
            return None
        secret_hash, stored = found
        if not secrets.compare_digest(secret_hash, hash_secret(secret)):
            return None
        return stored if stored.revoked_at is None else None

    async def _lookup(self, key_id: str) -> tuple[str, StoredKey] | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.store.sessions() as session:
            row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
        found = (row.secret_hash, _stored(row)) if row else None
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[key_id] = (now + self.cache_seconds, found)
        return found
