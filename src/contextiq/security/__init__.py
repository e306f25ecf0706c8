"""Keys with roles, per-user tokens, rate limits, the audit log and request hygiene."""

from contextiq.security.access import Access, Gate, allow, require_user, secure_routes
from contextiq.security.audit import AuditLog
from contextiq.security.keys import KeyRing
from contextiq.security.principal import Principal, Role

__all__ = [
    "Access",
    "AuditLog",
    "Gate",
    "KeyRing",
    "Principal",
    "Role",
    "allow",
    "require_user",
    "secure_routes",
]
