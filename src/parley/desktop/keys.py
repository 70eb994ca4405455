"""Keys from the terminal without blocking the event loop.

stdin goes to cbreak mode (keys arrive one by one, unechoed; Ctrl-C still raises SIGINT, which
the loop turns into a key) and the loop reads it when readable (`add_reader`), so a key is
handled between two audio blocks. Tests press keys through `DesktopApp.press` instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import termios
import tty
from collections.abc import Callable
from types import TracebackType
from typing import Any

ESC = "esc"
CTRL_C = "ctrl-c"


def key_names(data: bytes) -> list[str]:
    """What one read of the terminal means: a lone ESC is the Esc key; an escape sequence
    (an arrow key) is nothing; other bytes are keys, lower-cased."""
    if data == b"\x1b":
        return [ESC]
    if data.startswith(b"\x1b"):
        return []
    text = data.decode("utf-8", errors="ignore")
    return [CTRL_C if ch == "\x03" else ch.lower() for ch in text]


class TerminalKeys:
    """`with TerminalKeys(on_key):` while the call runs; restores the terminal after."""

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self._on_key = on_key
        self._fd: int | None = None
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> TerminalKeys:
        loop = self._loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._on_key, CTRL_C)
        if sys.stdin.isatty():
            fd = self._fd = sys.stdin.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
            loop.add_reader(fd, self._read)
        return self

    def _read(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 64)
        except OSError:
            return
        for key in key_names(data):
            self._on_key(key)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = self._loop
        if loop is not None:
            loop.remove_signal_handler(signal.SIGINT)
            if self._fd is not None:
                loop.remove_reader(self._fd)
        if self._fd is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
