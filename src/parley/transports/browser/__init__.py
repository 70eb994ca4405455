"""The browser transport: the voice web page and its websocket protocol (docs/protocol.md)."""

from parley.transports.browser.transport import BrowserTransport

__all__ = ["BrowserTransport"]
