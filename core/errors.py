"""Errors every layer may raise about its configuration (no imports: cheap to catch)."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting is missing or does not work; the message says which and how to fix it."""
