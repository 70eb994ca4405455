"""The core's session scenarios (barge-in, backchannel, hangup) with the cloud adapters in
place: Deepgram + OpenAI-compatible chat + ElevenLabs, and OpenAI Realtime alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import pytest

from parley.events import AgentPaused, AgentResponseDone, AgentResumed, UserSpeechStarted
from parley.session import Providers
from parley.testing.memory_transport import HangUp, MemoryTransport, Say, Silence, Step, Wait
from tests.scenario.harness import contiguous

from .calls import (
    CloudCall,
    Fakes,
    cascade_providers,
    cascade_servers,
    converse,
    realtime_providers,
    realtime_server,
)

FRAME = 0.02
REPLY = "one two three four five six seven eight nine ten eleven twelve."  # 12 words, 3 s
STACKS = ["cascade", "realtime"]
RATES = {"cascade": 16000, "realtime": 24000}


def speaking(count: int) -> Callable[[MemoryTransport], bool]:
    from parley.events import AgentSpeaking

    return lambda t: len(t.events_of(AgentSpeaking)) >= count


@asynccontextmanager
async def stack(
    kind: str, steps: Sequence[Step], replies: Sequence[str]
) -> AsyncIterator[tuple[Providers, Fakes]]:
    if kind == "cascade":
        async with cascade_servers(steps, replies) as fakes:
            yield cascade_providers(fakes), fakes
    else:
        async with realtime_server(steps, replies) as fakes:
            yield realtime_providers(fakes), fakes


async def call(kind: str, steps: list[Step], replies: Sequence[str]) -> CloudCall:
    async with stack(kind, steps, replies) as (providers, fakes):
        return await converse(providers, fakes, steps, output_rate=RATES[kind])


@pytest.mark.parametrize("kind", STACKS)
async def test_barge_in_stops_at_once_and_the_provider_forgets_what_was_unheard(
    kind: str,
) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me a story", 1.0),
        Wait(speaking(1), then=1.0),
        Say("no wait stop", 0.8),
        Silence(2.0),
        HangUp(),
    ]
    done = await call(kind, steps, [REPLY, "Sure."])

    decided_at = [t for t, _ in done.events(UserSpeechStarted)][1]
    # In real time the clear comes a hair before the event that reports the decision.
    clear_at = next(t for t in done.transport.clears if t >= decided_at - FRAME)
    assert abs(clear_at - decided_at) < FRAME  # the decision cleared the output in one step
    assert max(done.sent_times("resp_1")) <= decided_at  # nothing old after the decision
    statuses = {e.response_id: e.status for _, e in done.events(AgentResponseDone)}
    assert statuses == {"resp_1": "interrupted", "resp_2": "completed"}, done.errors()
    cut = next(m for m in done.session.conversation.history if m.interrupted)
    kept = cut.content.split()
    assert 2 <= len(kept) <= 8 and REPLY.startswith(" ".join(kept))
    heard = len(done.transport.listener.heard_samples("resp_1")) / RATES[kind]
    if kind == "realtime":
        fake = done.fakes.realtime
        assert fake is not None
        assert fake.cancelled <= 1  # generation was likely over already; either way is fine
        [(_, end_ms)] = fake.truncated  # the server's copy is cut where the person stopped
        assert abs(end_ms / 1000 - heard) < 0.1
        assert len(fake.conversations) == 2
    else:
        el = done.fakes.elevenlabs
        assert el is not None
        assert {"context_id": "parley-1", "close_context": True} in el.received
        assert el.connections == 1  # the cancelled response did not cost the socket
    assert done.tasks_left == set()


@pytest.mark.parametrize("kind", STACKS)
async def test_a_backchannel_resumes_exactly_and_leaves_no_trace(kind: str) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(speaking(1), then=1.0),
        Say("uh-huh", 0.4),
        Silence(3.5),  # the rest of the answer plays
        Say("thanks", 0.6),
        Wait(speaking(2), then=1.0),
        HangUp(),
    ]
    done = await call(kind, steps, [REPLY, "You are welcome."])

    assert len(done.events(AgentPaused)) == 1 and len(done.events(AgentResumed)) == 1
    heard = done.transport.listener.heard_samples("resp_1")
    assert len(heard) == 12 * 0.25 * RATES[kind]  # every sample, once...
    assert contiguous(heard)  # ...in order
    history = [(m.role, m.content) for m in done.session.conversation.history[1:]]
    assert history[:3] == [("user", "explain something"), ("assistant", REPLY), ("user", "thanks")]
    if kind == "realtime":
        fake = done.fakes.realtime
        assert fake is not None
        # The "uh-huh" item was deleted before the second response: the model never saw it.
        second = [(i.role, i.text) for i in fake.conversations[1]]
        assert ("user", "uh-huh") not in second and ("user", "thanks") in second
        assert len(fake.deleted) == 1
    else:
        assert done.fakes.chat is not None
        assert [r["messages"][-1]["content"] for r in done.fakes.chat.requests] == [
            "explain something",
            "thanks",
        ]


@pytest.mark.parametrize("kind", STACKS)
async def test_hangup_while_speaking_stops_at_once_and_closes_within_the_deadline(
    kind: str,
) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me something", 1.0),
        Wait(speaking(1), then=0.6),
        HangUp(),
    ]
    done = await call(kind, steps, [REPLY])

    # In real time the hangup reaches the session a little after the caller's script sends
    # it: "at once" is measured from when the session took it.
    hangup_at = done.transport.hangup_received_at
    assert hangup_at is not None
    assert max(done.sent_times("resp_1")) <= hangup_at
    closed_at = done.session.closed_at
    assert closed_at is not None
    assert closed_at - hangup_at <= done.session.config.close_deadline_s
    assert done.tasks_left == set()
    assert done.session.supervisor.abandoned == []
    if kind == "cascade":
        assert done.fakes.deepgram is not None and done.fakes.elevenlabs is not None
        assert done.fakes.deepgram.controls[-1] == "CloseStream"
        assert done.fakes.elevenlabs.received[-1] == {"close_socket": True}
