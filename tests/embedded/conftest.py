"""The embedded-model fixtures live in tests/conftest.py, shared with the transport tests."""

from __future__ import annotations

from tests.conftest import Speak

__all__ = ["Speak"]
