"""The computer's own microphone and speakers as a transport (`parley talk`; docs/desktop.md)."""

from parley.transports.desktop.transport import DesktopTransport

__all__ = ["DesktopTransport"]
