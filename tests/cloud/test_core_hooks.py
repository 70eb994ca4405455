"""The two core hooks the cloud adapters need, on the scenario harness's virtual clock:
- Provider.for_session: a provider gets a per-call view and a closer run at session close;
- TTSStream.interrupted: a cut response's TTS stream learns how much of it was heard."""

from __future__ import annotations

from collections.abc import AsyncIterator

from parley.providers.base import TTSChunk, TTSStream
from parley.providers.scope import SessionScope
from parley.testing.fakes import FakeLLM, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait

from ..scenario.harness import agent_started_speaking, converse

WORDS = [f"w{i}" for i in range(16)]
REPLY = " ".join(WORDS) + "."  # 16 words x 0.25 s


class _Told(TTSStream):
    """A fake TTS stream that records what `interrupted` was told."""

    def __init__(self, inner: TTSStream, told: list[float]) -> None:
        self._inner, self._told = inner, told

    def push_text(self, text: str) -> None:
        self._inner.push_text(text)

    def end_input(self) -> None:
        self._inner.end_input()

    def __aiter__(self) -> AsyncIterator[TTSChunk]:
        return self._inner.__aiter__()

    def interrupted(self, played: float) -> None:
        self._told.append(played)

    async def aclose(self) -> None:
        await self._inner.aclose()


class TellingTTS(FakeTTS):
    def __init__(self) -> None:
        super().__init__()
        self.told: list[float] = []

    def stream(self, output_rate: int | None = None) -> TTSStream:
        return _Told(super().stream(output_rate), self.told)


class ScopedLLM(FakeLLM):
    """Keeps a per-call 'connection' in the session scope and closes it with the session."""

    def __init__(self) -> None:
        super().__init__([REPLY])
        self.opened: list[dict[str, bool]] = []

    def for_session(self, scope: SessionScope) -> ScopedLLM:
        def create() -> dict[str, bool]:
            connection = {"closed": False}

            async def close() -> None:
                connection["closed"] = True

            scope.on_close(close)
            self.opened.append(connection)
            return connection

        scope.get(ScopedLLM, create)
        scope.get(ScopedLLM, create)  # the same value the second time
        return self


def test_a_cut_response_tells_its_tts_stream_how_much_was_heard() -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me the words", 1.0),
        Wait(agent_started_speaking(1), then=1.2 - 0.08),
        Say("stop there", 0.6),
        Silence(3.0),
        HangUp(),
    ]
    tts = TellingTTS()
    call = converse(steps, llm=FakeLLM([REPLY, "Okay."]), tts=tts)

    assert len(tts.told) == 1  # the interrupted response; the completed one is not told
    played = tts.told[0]
    assert 1.1 <= played <= 1.25
    cut = next(m for m in call.session.conversation.history if m.interrupted)
    assert len(cut.content.split()) == sum(0.25 * i < played for i in range(16))


def test_a_hangup_tells_the_tts_stream_too() -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me the words", 1.0),
        Wait(agent_started_speaking(1), then=0.5),
        HangUp(),
    ]
    tts = TellingTTS()
    converse(steps, llm=FakeLLM([REPLY]), tts=tts)
    assert len(tts.told) == 1 and 0.45 <= tts.told[0] <= 0.55


def test_per_call_state_is_made_once_per_session_and_closed_with_it() -> None:
    llm = ScopedLLM()
    steps: list[Step] = [Silence(0.3), Say("hello", 0.6), Silence(2.0), HangUp()]
    call = converse(steps, llm=llm)
    assert llm.opened == [{"closed": True}]
    assert call.tasks_left == set()
