"""Context IQ: personalized content recommendations."""

__version__ = "0.1.0"
