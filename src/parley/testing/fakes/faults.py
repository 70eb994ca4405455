"""Scripted faults for the fake providers: the ways real providers misbehave."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from parley.providers.base import ProviderError


class FaultKind(StrEnum):
    RAISE = "raise"  # the provider reports an error
    DISCONNECT = "disconnect"  # the connection drops mid-stream
    HANG = "hang"  # the stream stops producing and never ends (until cancelled)


@dataclass(frozen=True, slots=True)
class Fault:
    """Strike the `call`-th call (1-based; 0 means every call) after `after` items went out."""

    kind: FaultKind
    call: int = 1
    after: int = 0

    def hits(self, call: int, produced: int) -> bool:
        return (self.call in (0, call)) and produced == self.after


async def hang_forever() -> None:
    """Wait forever, like a read on a socket whose peer went silent. Cancellable."""
    await asyncio.Event().wait()


async def slow_close(delay: float) -> None:
    """A close that takes `delay` seconds; math.inf hangs forever (until cancelled)."""
    if delay == float("inf"):
        await hang_forever()
    elif delay > 0:
        await asyncio.sleep(delay)


async def strike(faults: Sequence[Fault], who: str, call: int, produced: int) -> None:
    """Carry out the first fault that hits this point of this call, if any."""
    for fault in faults:
        if not fault.hits(call, produced):
            continue
        if fault.kind is FaultKind.RAISE:
            raise ProviderError(f"{who}: scripted failure (call {call}, after {produced})")
        if fault.kind is FaultKind.DISCONNECT:
            raise ConnectionResetError(f"{who}: connection dropped (call {call})")
        await hang_forever()
