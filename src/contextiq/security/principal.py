"""Who is calling, and with which role: what every access decision starts from."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args


class Role(StrEnum):
    #: No credentials, on a server that does not require them.
    ANONYMOUS = "anonymous"
    #: A per-user token (JWT): acts only as its own `sub`.
    USER = "user"
    #: An application key: posts interactions, reads recommendations, profiles, content.
    CLIENT = "client"
    #: An operator key: everything, including catalogue writes, models, erasure and audit.
    ADMIN = "admin"


#: The roles a stored or bootstrap key can have, by name (what `contextiq keys create` offers).
KeyRoleName = Literal["client", "admin"]
KEY_ROLES = tuple(Role(name) for name in get_args(KeyRoleName))


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    #: What the audit log records: a key's name, a token's `user_pseudonym(sub)` or `anonymous`.
    name: str
    #: The user a token speaks for; None for keys and anonymous callers.
    subject: str | None = None


ANONYMOUS = Principal(Role.ANONYMOUS, "anonymous")
