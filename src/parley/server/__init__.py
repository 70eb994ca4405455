"""The ASGI server: routes, provider loading, health, and the sessions it runs."""

from parley.server.app import create_app

__all__ = ["create_app"]
