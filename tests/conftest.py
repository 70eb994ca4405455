"""Test-wide fixtures: a guard against the network, and the real models, loaded once.

Tests must pass with the network cut, and nothing may fetch model weights from a hub, so a
connection or name lookup for anything but loopback raises at once, naming the target,
instead of hanging on a timeout or, worse, quietly succeeding where a network exists.

The embedded models load once per test run, the first time a test asks for them, and are
shared by every test that does (each loads in seconds and holds ~100 MB).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.providers import registry
from parley.providers.local.llama import LlamaLLM
from parley.providers.local.piper import PiperTTS
from parley.providers.local.silero import SileroVAD
from parley.providers.local.whisper import WhisperSTT
from parley.session import Providers
from parley.settings import Settings

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "testserver", ""}


# --- measurements, printed after the run -----------------------------------------------------

Measure = Callable[[str, float, str], None]  # the `measured` fixture
_MEASURED: dict[str, dict[str, str]] = {}  # by test folder: name -> value
_TITLES = {
    "scenario": "scenario measurements (virtual clock)",
    "twilio": "twilio measurements (real time, fake caller over loopback)",
    "browser": "browser measurements (real time, loopback)",
    "realtime": "realtime endpoint measurements (official client over loopback)",
    "cloud": "cloud adapter measurements (real time, local fake servers)",
    "hostile": "hostile input measurements (real server over loopback, real time)",
}


@pytest.fixture
def measured(request: pytest.FixtureRequest) -> Measure:
    """Record a measured value under a readable name; `make test` prints them all at the end,
    grouped by test folder."""
    folder = Path(str(request.node.path)).parent.name

    def record(name: str, value: float, unit: str) -> None:
        shown = f"{value:.1f} {unit}" if unit == "ms" else f"{value:g} {unit}"
        _MEASURED.setdefault(folder, {})[name] = shown

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for folder, values in _MEASURED.items():
        terminalreporter.section(_TITLES.get(folder, f"{folder} measurements"))
        width = max(len(name) for name in values)
        for name, value in values.items():
            terminalreporter.write_line(f"{name:<{width}}  {value}")


# --- call records -----------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def records_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers the tests start keep their call records (on by default) in a folder of the
    test run, not in ./data (subprocesses inherit it through the environment)."""
    folder = tmp_path_factory.mktemp("records")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PARLEY_RECORDS__DATA_DIR", str(folder))
        yield


# --- the network guard -------------------------------------------------------------------------


class NetworkAccessError(RuntimeError):
    pass


def _is_local_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _check_address(family: int, address: Any) -> None:
    if family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_local_host(host):
        raise NetworkAccessError(f"test tried to reach {address!r}: only loopback is allowed")


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self.family, address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self.family, address)
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_local_host(host):
            raise NetworkAccessError(f"test tried to resolve {host!r}: only loopback is allowed")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo


# --- the embedded models ------------------------------------------------------------------

Speak = Callable[[str], AudioFrame]
P = TypeVar("P")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.model_validate({})  # the embedded defaults, whatever the environment says


def _create(kind: registry.Kind, name: str, cls: type[P], settings: Settings) -> P:
    """The named embedded provider from the registry, checked to be a `cls`."""
    provider = registry.create(kind, name, settings)
    assert isinstance(provider, cls)
    return provider


@pytest.fixture(scope="session")
def piper(settings: Settings) -> PiperTTS:
    return _create("tts", "piper", PiperTTS, settings)


@pytest.fixture(scope="session")
def whisper(settings: Settings) -> WhisperSTT:
    return _create("stt", "whisper", WhisperSTT, settings)


@pytest.fixture(scope="session")
def silero(settings: Settings) -> SileroVAD:
    return _create("vad", "silero", SileroVAD, settings)


@pytest.fixture(scope="session")
def llama(settings: Settings) -> LlamaLLM:
    return _create("llm", "llama", LlamaLLM, settings)


@pytest.fixture(scope="session")
def embedded(silero: SileroVAD, whisper: WhisperSTT, llama: LlamaLLM, piper: PiperTTS) -> Providers:
    return Providers(silero, whisper, llama, piper)


@pytest.fixture(scope="session")
def speak(piper: PiperTTS) -> Speak:
    """Piper's voice saying `text`, at 16 kHz: natural speech for tests, made on the spot."""
    cache: dict[str, AudioFrame] = {}

    async def synthesize(text: str) -> AudioFrame:
        chunks = [chunk async for chunk in piper.synthesize(text)]
        return AudioFrame(b"".join(c.audio.pcm for c in chunks), piper.sample_rate)

    def say(text: str) -> AudioFrame:
        if text not in cache:
            cache[text] = resample(asyncio.run(synthesize(text)), 16000)
        return cache[text]

    return say
