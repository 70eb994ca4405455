"""Keypad digits from a transport reach the session's observers as UserDtmf events."""

from __future__ import annotations

import asyncio

from parley.events import SessionEvent, UserDtmf
from parley.session import Session
from parley.session.config import Providers
from parley.session.port import DtmfDigit, Hangup
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import MemoryTransport


async def test_dtmf_digits_become_session_events_in_order() -> None:
    transport = MemoryTransport()
    providers = Providers(EnergyVAD(), FakeSTT(), FakeLLM(), FakeTTS())
    session = Session(transport, providers)
    seen: list[SessionEvent] = []
    session.observers.append(seen.append)
    for digit in "7*#":
        transport.feed(DtmfDigit(digit))
    transport.feed(Hangup())
    await asyncio.wait_for(session.run(), 5)
    assert [e.digit for e in seen if isinstance(e, UserDtmf)] == ["7", "*", "#"]
    assert [e for _, e in transport.events_of(UserDtmf)] == [UserDtmf(d) for d in "7*#"]
