"""Loads the configured providers once per process, in a worker thread, with progress.

Models are shared by every session (each session opens its own streams on them), so they
load once at startup. Loading runs off the event loop so /health answers meanwhile.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from parley.providers import registry
from parley.session.config import Providers
from parley.settings import Settings

log = logging.getLogger("parley.server")

LoadState = Literal["pending", "loading", "ready", "failed"]


@dataclass
class ProviderStatus:
    kind: registry.Kind
    name: str
    state: LoadState = "pending"
    load_seconds: float | None = None
    error: str | None = None


class ProviderLoader:
    def __init__(self, settings: Settings, preloaded: Providers | None = None) -> None:
        self._settings = settings
        self._built: dict[str, Any] = {}
        self._owned: list[Any] = []  # built here (not preloaded): closed by close()
        names = {"vad": settings.vad, "stt": settings.stt, "llm": settings.llm, "tts": settings.tts}
        kinds: tuple[registry.Kind, ...] = registry.KINDS
        detector = settings.session.policy.turn_detector
        if settings.session.policy.uses_turn_detector:  # optional: only when the policy asks
            names["turn"] = detector
            kinds = (*kinds, "turn")
        self.status = {kind: ProviderStatus(kind, names[kind]) for kind in kinds}
        if preloaded is not None:
            for kind in kinds:
                provider = getattr(preloaded, kind)
                if provider is None:
                    continue
                self._built[kind] = provider
                status = self.status[kind]
                status.name, status.state, status.load_seconds = provider.name, "ready", 0.0

    @property
    def ready(self) -> bool:
        """Every provider loaded; an optional one (the turn detector) may have failed
        instead: sessions then end turns by silence."""
        return all(
            s.state == "ready" or (s.kind not in registry.KINDS and s.state == "failed")
            for s in self.status.values()
        )

    @property
    def failed(self) -> bool:
        return any(s.state == "failed" and s.kind in registry.KINDS for s in self.status.values())

    @property
    def providers(self) -> Providers:
        if not self.ready:
            raise RuntimeError("providers are not loaded")
        return Providers(**self._built)

    async def load(self, progress: Callable[[ProviderStatus], None] | None = None) -> None:
        """Build each pending provider in turn, in a worker thread; failures are recorded."""
        for kind, status in self.status.items():
            if status.state != "pending":
                continue
            status.state = "loading"
            log.info("loading %s provider %r", kind, status.name)
            if progress:
                progress(status)
            started = time.perf_counter()
            try:
                provider = await asyncio.to_thread(
                    registry.create, kind, status.name, self._settings
                )
            except Exception as exc:
                status.state, status.error = "failed", f"{type(exc).__name__}: {exc}"
                log.error("%s provider %r failed to load: %s", kind, status.name, status.error)
            else:
                self._built[kind] = provider
                self._owned.append(provider)
                status.state = "ready"
                status.load_seconds = time.perf_counter() - started
                log.info("%s provider %r ready in %.1f s", kind, status.name, status.load_seconds)
            if progress:
                progress(status)

    def close(self) -> None:
        """Release what the loaded providers hold (the embedded ones unload their models, and
        the model process stops with the last). Blocking: call it from a worker thread."""
        owned, self._owned = self._owned, []
        for provider in owned:
            closer = getattr(provider, "close", None)
            if callable(closer) and not inspect.iscoroutinefunction(closer):
                try:
                    closer()
                except Exception:
                    log.exception("closing provider %r failed", provider.name)
