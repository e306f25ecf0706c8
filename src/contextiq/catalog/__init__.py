"""Catalogue writes as one operation: store, serving model and every replica's caches."""

from contextiq.catalog.service import CatalogService

__all__ = ["CatalogService"]
