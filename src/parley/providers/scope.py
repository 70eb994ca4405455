"""Per-call state that providers keep for one session (see `Provider.for_session`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")
log = logging.getLogger("parley.providers")


class SessionScope:
    """What a session lends its providers for the length of one call.

    Providers are built once and shared by every session. A few keep state per call: a
    socket that a call's responses share (ElevenLabs' contexts, an HTTP connection pool), or
    one live connection behind several facets (a speech-to-speech session). They keep it
    here, keyed as they like, and register a closer; the session runs the closers when it
    closes, within its deadline, alongside every other cleanup.
    """

    def __init__(self) -> None:
        self._values: dict[object, object] = {}
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    def get(self, key: object, create: Callable[[], T]) -> T:
        """The value kept under `key`, created on first use."""
        if key not in self._values:
            self._values[key] = create()
        return cast(T, self._values[key])

    def on_close(self, closer: Callable[[], Awaitable[Any]]) -> None:
        self._closers.append(closer)

    async def aclose(self) -> None:
        """Run every closer concurrently; failures are logged, not raised."""
        closers, self._closers = self._closers, []
        results = await asyncio.gather(*(c() for c in closers), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.warning("provider close failed: %s: %s", type(result).__name__, result)
