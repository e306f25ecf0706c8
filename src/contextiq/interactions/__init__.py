"""Interactions in: the checks and the write an API request or an import asks for."""

from contextiq.interactions.service import InteractionService, UnknownContent

__all__ = ["InteractionService", "UnknownContent"]
