"""Whole calls through a Session with the cloud adapters talking to the fake servers.

These run in real time, not on the scenario harness's virtual clock: the adapters talk to
the fake servers over real loopback sockets, and a virtual clock would jump ahead while a
socket read is in flight. So the timings these tests assert have generous bounds, except
the ones that stay inside one synchronous step of the session (a VAD decision becoming a
clear), which are exact on any clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from parley.conversation.policy import TurnTakingPolicy
from parley.events import ErrorEvent
from parley.providers.cloud.config import (
    DeepgramSettings,
    ElevenLabsSettings,
    OpenAIChatSettings,
    OpenAIRealtimeSettings,
)
from parley.providers.cloud.deepgram import DeepgramSTT
from parley.providers.cloud.elevenlabs import ElevenLabsTTS
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.cloud.realtime_facets import (
    RealtimeLLM,
    RealtimeSTT,
    RealtimeTTS,
    RealtimeVAD,
)
from parley.session import Providers, Session, SessionConfig
from parley.session.tools import ToolBox
from parley.testing.fakes import EnergyVAD
from parley.testing.memory_transport import MemoryTransport, ScriptedCaller, Step, stt_script
from tests.scenario.harness import Recorded
from tests.serving import serving

from .fakes import deepgram, elevenlabs, openai_chat, realtime
from .fakes.servers import ws_server


@dataclass
class Fakes:
    """The fake servers behind one stack, and the settings that point at them."""

    deepgram: deepgram.FakeDeepgram | None = None
    chat: openai_chat.FakeChatServer | None = None
    elevenlabs: elevenlabs.FakeElevenLabs | None = None
    realtime: realtime.FakeRealtime | None = None
    urls: dict[str, str] = field(default_factory=dict)


@dataclass
class CloudCall(Recorded):
    transport: MemoryTransport
    session: Session
    caller: ScriptedCaller
    fakes: Fakes
    tasks_left: set[asyncio.Task[Any]] = field(default_factory=set)

    def errors(self) -> list[str]:
        return [f"{e.code}: {e.message}" for _, e in self.events(ErrorEvent)]


@asynccontextmanager
async def cascade_servers(
    steps: Sequence[Step], replies: Sequence[str], **elevenlabs_options: Any
) -> AsyncIterator[Fakes]:
    fakes = Fakes(
        deepgram=deepgram.FakeDeepgram(),
        chat=openai_chat.FakeChatServer(),
        elevenlabs=elevenlabs.FakeElevenLabs(**elevenlabs_options),
    )
    assert fakes.deepgram and fakes.chat and fakes.elevenlabs
    fakes.deepgram.add(*stt_script(steps))
    fakes.chat.script(*(openai_chat.Reply(r, first_token_delay=0.1) for r in replies))
    async with AsyncExitStack() as stack:
        dg, el = fakes.deepgram, fakes.elevenlabs
        fakes.urls["deepgram"] = await stack.enter_async_context(
            ws_server(dg.handler, dg.process_request)
        )
        chat = await stack.enter_async_context(serving(fakes.chat, lifespan="off"))
        fakes.urls["chat"] = f"http://{chat}"
        fakes.urls["elevenlabs"] = await stack.enter_async_context(
            ws_server(el.handler, el.process_request)
        )
        yield fakes


def cascade_providers(fakes: Fakes) -> Providers:
    urls = fakes.urls
    stt = DeepgramSTT(
        DeepgramSettings.model_validate(
            {"base_url": urls["deepgram"] + "/v1/listen", "api_key": deepgram.KEY}
        )
    )
    llm = OpenAIChatLLM(
        OpenAIChatSettings.model_validate(
            {"base_url": urls["chat"] + "/v1", "api_key": openai_chat.KEY}
        )
    )
    tts = ElevenLabsTTS(
        ElevenLabsSettings.model_validate(
            {"base_url": urls["elevenlabs"] + "/v1", "api_key": elevenlabs.KEY}
        )
    )
    return Providers(EnergyVAD(), stt, llm, tts)


@asynccontextmanager
async def realtime_server(steps: Sequence[Step], replies: Sequence[str]) -> AsyncIterator[Fakes]:
    fake = realtime.FakeRealtime()
    fake.transcripts.extend(stt_script(steps))
    fake.replies.extend(replies)
    async with ws_server(fake.handler, fake.process_request) as url:
        yield Fakes(realtime=fake, urls={"realtime": url + "/v1/realtime"})


def realtime_providers(fakes: Fakes, **changes: Any) -> Providers:
    settings = OpenAIRealtimeSettings.model_validate(
        {"base_url": fakes.urls["realtime"], "api_key": realtime.KEY, **changes}
    )
    return Providers(
        RealtimeVAD(settings), RealtimeSTT(settings), RealtimeLLM(settings), RealtimeTTS(settings)
    )


async def converse(
    providers: Providers,
    fakes: Fakes,
    steps: Sequence[Step],
    *,
    output_rate: int = 16000,
    policy: TurnTakingPolicy | None = None,
    tools: ToolBox | None = None,
) -> CloudCall:
    """Run a whole scripted call (ending in HangUp) in real time."""
    transport = MemoryTransport(output_rate)
    config = SessionConfig(policy=policy or TurnTakingPolicy())
    session = Session(transport, providers, config, tools=tools)
    caller = ScriptedCaller(transport, steps)
    call = CloudCall(transport, session, caller, fakes)
    before = asyncio.all_tasks()
    async with asyncio.timeout(60):
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(caller.run())
    call.tasks_left = {t for t in asyncio.all_tasks() - before if not t.done()}
    transport.listener.settle(asyncio.get_running_loop().time())
    return call
