"""Anonymous visitors: a session's events, merged into a user when they log in."""

from contextiq.sessions.service import SessionService

__all__ = ["SessionService"]
