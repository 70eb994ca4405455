"""The session runtime: runs one conversation over one transport."""

from parley.session.config import DEFAULT_INSTRUCTIONS, Providers, SessionConfig
from parley.session.session import Session

__all__ = ["DEFAULT_INSTRUCTIONS", "Providers", "Session", "SessionConfig"]
