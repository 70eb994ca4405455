"""`parley talk` live: a call on this computer's microphone and speakers, in the terminal.

The app owns the call's lifecycle and the keys; the session and the transport are the same as
for any call (the transport only translates). What it promises (issue 16):
- hangup (q, Esc, Ctrl-C) silences the speaker from its next block (the transport's buffer
  is muted before anything else) and ends the session within its 2 s close bound; again is
  harmless;
- start-up never freezes the terminal: each provider is built in a daemon thread, so a hangup
  during loading returns at once and the exit never waits for a model still loading;
- m mutes the microphone (silence goes on, so the session's clock does), n hangs up and
  starts a new call with the same providers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.live import Live

from parley.desktop.devices import AudioDevices, DeviceError
from parley.desktop.echo import EchoCanceller, EchoUnavailable
from parley.desktop.keys import CTRL_C, ESC
from parley.desktop.recording import numbered, write_call
from parley.desktop.ui import render
from parley.desktop.view import CallView
from parley.providers import registry
from parley.session import Providers, Session
from parley.settings import Settings
from parley.transports.desktop import DesktopTransport

log = logging.getLogger("parley.desktop")
T = TypeVar("T")
HANGUP_KEYS = frozenset({"q", ESC, CTRL_C})
REFRESH_S = 0.1


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """Run blocking `work` in a daemon thread: awaiting it can be cancelled, and the process
    can exit while it still runs (a model that takes a minute to load)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="parley-load", daemon=True).start()
    return await done


def provider_builder(settings: Settings) -> Callable[[str], Any]:
    """Builds one provider kind from the settings (blocking: models load here)."""
    names = {"vad": settings.vad, "stt": settings.stt, "llm": settings.llm, "tts": settings.tts}
    return lambda kind: registry.create(kind, names[kind], settings)  # type: ignore[arg-type]


class DesktopApp:
    def __init__(
        self,
        settings: Settings,
        devices: AudioDevices,
        *,
        build: Callable[[str], Any] | None = None,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        record: Path | None = None,
        cancel_echo: bool = True,
        console: Console | None = None,
        live: bool = True,
    ) -> None:
        self.settings = settings
        self.devices = devices
        self._build = build or provider_builder(settings)
        self._input_device = input_device
        self._output_device = output_device
        self.record = record
        self._cancel_echo = cancel_echo
        self.console = console or Console()
        self._live = live
        self.view = CallView()
        self.transport: DesktopTransport | None = None
        self.session: Session | None = None
        self.sessions: list[Session] = []
        self.recordings: list[Path] = []
        self.quitting = False
        self._new_call = False
        self._loading: asyncio.Task[Providers] | None = None
        self._built: list[Any] = []
        self.hangup_at: float | None = None  # loop time of the first hangup key

    # --- keys (the terminal's reader and tests both come here) ----------------------------

    def press(self, key: str) -> None:
        if key in HANGUP_KEYS:
            self.hang_up()
        elif key == "m":
            self.view.muted = not self.view.muted
            if self.transport is not None:
                self.transport.set_muted(self.view.muted)
        elif key == "n" and not self.quitting and self.transport is not None:
            self._new_call = True
            self.transport.hang_up("new call")

    def hang_up(self) -> None:
        """Silence now, end the call, quit; a second press finds nothing left to do."""
        if self.hangup_at is None:
            self.hangup_at = asyncio.get_running_loop().time()
        self.quitting = True
        if self.transport is not None:
            self.transport.hang_up()
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self.view.note = "hanging up"

    # --- the run --------------------------------------------------------------------------

    async def run(self) -> int:
        """Load, then call until hung up; 0 when the calls ran, 1 when one could not start."""
        refresher = asyncio.create_task(self._refresh())
        try:
            self._loading = asyncio.create_task(self._load())
            try:
                providers = await self._loading
            except asyncio.CancelledError:
                if not self.quitting:
                    raise
                self.view.state, self.view.note = "ended", "hung up while loading"
                return 0
            except Exception as exc:
                self.view.state, self.view.note = "ended", f"loading failed: {exc}"
                return 1
            while not self.quitting:
                self._new_call = False
                if not await self._call(providers):
                    return 1
                if not self._new_call:
                    break
            return 0
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await self._close_providers()

    async def _load(self) -> Providers:
        built: dict[str, Any] = {}
        for kind in registry.KINDS:
            self.view.note = f"loading {kind}..."
            built[kind] = provider = await in_daemon_thread(functools.partial(self._build, kind))
            self._built.append(provider)
        self.view.note = ""
        return Providers(**built)

    def _make_echo(self, rate: int) -> EchoCanceller | None:
        if not self._cancel_echo:
            self.view.echo = "echo cancelling off (headphones)"
            return None
        try:
            canceller = EchoCanceller(rate)
        except EchoUnavailable as exc:
            log.warning("%s: to talk over the agent, speak louder than it", exc)
            self.view.echo = "no echo canceller: talk louder than the agent to interrupt"
            return None
        self.view.echo = "echo cancelling on"
        return canceller

    async def _call(self, providers: Providers) -> bool:
        transport = DesktopTransport(
            self.devices,
            input_device=self._input_device,
            output_device=self._output_device,
            echo=self._make_echo,
            gate=self._cancel_echo,  # headphones: no echo, so no gate either
        )
        transport.keep_audio = self.record is not None
        transport.set_muted(self.view.muted)
        try:
            transport.open()
        except DeviceError as exc:
            await transport.aclose()
            self.view.state, self.view.note = "ended", str(exc)
            return False
        session = Session(
            transport,
            providers,
            self.settings.session,
            session_id=f"desktop-{len(self.sessions) + 1}",
        )
        session.observers.append(self.view.on_event)
        self.transport, self.session = transport, session
        self.sessions.append(session)
        self.view.call_started()
        try:
            await session.run()
        finally:
            self.transport = None
        if self.record is not None:
            path = numbered(self.record, len(self.sessions))
            seconds = await asyncio.to_thread(
                write_call, path, transport.heard_mic, transport.heard_speaker,
                transport.output_sample_rate,
            )  # fmt: skip
            self.recordings.append(path)
            self.view.note = f"recorded {seconds:.0f} s to {path}"
        return True

    async def _close_providers(self) -> None:
        built, self._built = self._built, []
        for provider in built:
            closer = getattr(provider, "close", None)
            if not callable(closer) or inspect.iscoroutinefunction(closer):
                continue
            try:  # in a daemon thread, bounded: a close that hangs cannot hold the exit
                await asyncio.wait_for(in_daemon_thread(closer), 2.0)
            except Exception:
                log.exception("closing provider %r failed", getattr(provider, "name", provider))

    # --- the picture ----------------------------------------------------------------------

    def picture(self) -> Any:
        transport = self.transport
        mic = transport.mic_level if transport is not None else float("-inf")
        speaker = transport.speaker_level if transport is not None else float("-inf")
        return render(self.view, mic, speaker)

    async def _refresh(self) -> None:
        if not self._live:
            await asyncio.Event().wait()
        with Live(
            self.picture(), console=self.console, auto_refresh=False, transient=False
        ) as live:
            try:
                while True:
                    await asyncio.sleep(REFRESH_S)
                    live.update(self.picture(), refresh=True)
            finally:
                live.update(self.picture(), refresh=True)
