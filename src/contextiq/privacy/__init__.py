"""A person's data on request: everything held about them, or all of it erased."""

from contextiq.privacy.service import UserDataService

__all__ = ["UserDataService"]
