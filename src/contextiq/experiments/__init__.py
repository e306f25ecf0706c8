"""Impressions, attribution, online metrics and A/B experiments (docs/experiments.md)."""
