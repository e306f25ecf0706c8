"""Backends opened by URL scheme: each kind keeps one `{scheme: factory}` registry.

Settings name backends by URL (`memory://`, `redis://host/0`, `kafka://host:9092`, ...). Each
kind (database, cache, event bus, language-model scorer) registers its factories in a
`SchemeRegistry`; `config.py` checks the URL settings against the same registries at start-up,
so a typo stops the process with the list of what would work instead of failing later.
"""

from collections.abc import Mapping
from typing import Generic, TypeVar
from urllib.parse import urlsplit

F = TypeVar("F", covariant=True)


def scheme(url: str) -> str:
    """A backend URL's scheme, read the one way every registry and check reads it (lower case)."""
    return urlsplit(url).scheme


class UnknownScheme(ValueError):
    """A URL whose scheme no backend of its kind registered."""


class SchemeRegistry(Generic[F]):
    """The factories of one kind of backend, keyed by URL scheme."""

    def __init__(self, kind: str, factories: Mapping[str, F]) -> None:
        self.kind = kind
        self._factories: Mapping[str, F] = dict(factories)

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(self._factories)

    def known(self) -> str:
        """The schemes as a reader would type them: `memory://, redis://`."""
        return ", ".join(f"{scheme}://" for scheme in self._factories)

    def factory(self, url: str) -> F:
        """The factory for the URL's scheme; `UnknownScheme` names the ones there are."""
        name = scheme(url)
        try:
            return self._factories[name]
        except KeyError:
            raise UnknownScheme(
                f"unknown {self.kind} URL scheme {name or '(none)'!r}; known: {self.known()}"
            ) from None
