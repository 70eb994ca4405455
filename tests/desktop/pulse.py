"""A PulseAudio server of the tests' own: user mode, in a temporary directory, with a null sink
for the speaker (recorded from its monitor) and a virtual source for the microphone (fed by
playing into a second null sink, "room"). parley reaches it as any desktop app does: PortAudio
-> ALSA's default device -> the pulse plugin (libasound2-plugins), told the server by
PULSE_SERVER.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 16000
CONFIG = """
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=speaker rate=48000 channels=1
load-module module-null-sink sink_name=room rate=48000 channels=1
load-module module-virtual-source source_name=mic master=room.monitor
set-default-sink speaker
set-default-source mic
"""


def missing() -> str | None:
    """Why the PulseAudio tests cannot run here, or None."""
    for tool in ("pulseaudio", "pactl", "parec", "paplay"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-desktop.sh)"
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:
        return f"PortAudio is not installed: {exc}"
    return None


@dataclass
class PulseServer:
    root: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def server(self) -> str:
        return self.env["PULSE_SERVER"]

    def run(self, *args: str) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, timeout=10, check=True)
        return done.stdout.decode()

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Speak `wav` into the microphone (the room sink its source listens to)."""
        return subprocess.Popen(["paplay", "-d", "room", str(wav)], env=self.env)


def start(root: Path) -> PulseServer:
    runtime = root / "run"
    runtime.mkdir(parents=True)
    socket = runtime / "native"
    config = root / "parley.pa"
    config.write_text(CONFIG.format(socket=socket))
    env = {
        **os.environ,
        "HOME": str(root),
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "PULSE_STATE_PATH": str(root / "state"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    process = subprocess.Popen(
        ["pulseaudio", "-n", "-F", str(config), "--daemonize=no", "--system=false",
         "--exit-idle-time=-1", "--use-pid-file=false", "--log-target=stderr"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    server = PulseServer(root, process, env)
    deadline = time.monotonic() + 10
    while True:
        try:
            server.run("pactl", "info")
            return server
        except subprocess.CalledProcessError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(server)
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"pulseaudio did not start: {err[-2000:]}") from None
            time.sleep(0.05)


def stop(server: PulseServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


@dataclass
class Recording:
    """What the speaker played, recorded from its monitor, with when each piece arrived."""

    process: subprocess.Popen[bytes]
    chunks: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (monotonic, samples)
    _thread: threading.Thread | None = None

    def samples(self) -> np.ndarray:
        parts = [c for _, c in self.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def audible_after(self, moment: float, threshold: int = 64) -> float:
        """Seconds of sound in what arrived after `moment` (monotonic)."""
        after = [c for t, c in self.chunks if t > moment]
        if not after:
            return 0.0
        samples = np.concatenate(after)
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
        return 0.0 if loud.size == 0 else (loud[-1] + 1) / RATE

    def last_sound_at(self, before: float = float("inf"), threshold: int = 64) -> float:
        """When the last piece with sound arrived before `before` (monotonic; -inf if none
        did): an upper bound of when it played, late by the monitor's latency (10 ms asked)."""
        loud = [
            t
            for t, c in self.chunks
            if t < before and c.size and np.abs(c.astype(np.int32)).max() > threshold
        ]
        return loud[-1] if loud else float("-inf")

    def audible_between(self, start: float, end: float, threshold: int = 64) -> float:
        """Seconds of sound in what arrived between `start` and `end` (monotonic)."""
        parts = [c for t, c in self.chunks if start < t <= end]
        if not parts:
            return 0.0
        samples = np.abs(np.concatenate(parts).astype(np.int32))
        return float((samples > threshold).sum()) / RATE

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        if self._thread is not None:
            self._thread.join(5)


def record_speaker(server: PulseServer) -> Recording:
    process = subprocess.Popen(
        ["parec", "-d", "speaker.monitor", "--raw", "--format=s16le", f"--rate={RATE}",
         "--channels=1", "--latency-msec=10"],
        env=server.env, stdout=subprocess.PIPE,
    )  # fmt: skip
    recording = Recording(process)

    def read() -> None:
        assert process.stdout is not None
        while data := process.stdout.read1(640):  # type: ignore[attr-defined]
            even = data[: len(data) // 2 * 2]
            recording.chunks.append((time.monotonic(), np.frombuffer(even, dtype="<i2")))

    recording._thread = threading.Thread(target=read, daemon=True)
    recording._thread.start()
    return recording


@contextlib.contextmanager
def use_server(server: PulseServer | None) -> Iterator[None]:
    """Point this process's PortAudio at `server` (re-initialised: it lists devices once)."""
    import sounddevice as sd

    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "HOME")}
    if server is not None:
        for key in saved:
            os.environ[key] = server.env[key]
    sd._terminate()
    sd._initialize()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sd._terminate()
        sd._initialize()
