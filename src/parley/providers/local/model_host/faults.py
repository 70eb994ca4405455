"""The fault switch: makes the model process crash on cue, so tests can prove it is survived.

Read only in the model process, from the PARLEY_MODEL_FAULT environment variable: the path of
a file that, when it exists, names one fault, `<kind>:<how>[:after=N]`:

    llm:segv:after=3   SIGSEGV once three tokens of an LLM reply have been sent
    tts:abort          abort() as Piper starts a segment
    stt:segv           SIGSEGV as Whisper starts an utterance

`how` is segv, abort, kill (SIGKILL, as the OOM killer does) or exit (status 70). The file
is deleted as the fault fires, so the restarted process does not crash again.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

ENVIRONMENT_VARIABLE = "PARLEY_MODEL_FAULT"
HOW = ("segv", "abort", "kill", "exit")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    how: str
    after: int = 0


def parse(text: str) -> Fault:
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or parts[1] not in HOW:
        raise ValueError(f"bad fault {text.strip()!r}: want <kind>:<{'|'.join(HOW)}>[:after=N]")
    after = 0
    if len(parts) == 3:
        name, _, value = parts[2].partition("=")
        if name != "after" or not value.isdigit():
            raise ValueError(f"bad fault {text.strip()!r}: the third part is after=N")
        after = int(value)
    return Fault(parts[0], parts[1], after)


class FaultSwitch:
    def __init__(self, path: str | None) -> None:
        self._path = Path(path) if path else None
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> FaultSwitch:
        return cls(os.environ.get(ENVIRONMENT_VARIABLE))

    def check(self, kind: str, step: int) -> None:
        """Crash here if the file names a fault for `kind` due at `step` (items sent so far)."""
        if self._path is None:
            return
        with self._lock:
            try:
                fault = parse(self._path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return
            except ValueError as exc:
                print(f"parley model process: {exc}", file=sys.stderr)
                return
            if fault.kind != kind or step < fault.after:
                return
            self._path.unlink(missing_ok=True)  # one shot: the next process runs clean
        crash(fault.how)


def crash(how: str) -> None:
    sys.stderr.flush()
    if how == "abort":
        os.abort()
    if how == "exit":
        os._exit(70)
    os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGSEGV)
    threading.Event().wait(5)  # the signal is delivered before this returns
