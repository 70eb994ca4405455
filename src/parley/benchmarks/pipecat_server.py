"""Pipecat's benchmark server: the same call, built the way Pipecat builds a Twilio bot.

    python -m parley.benchmarks.pipecat_server SPEC.json

One FastAPI app; `WS /twilio/media` reads Twilio's `connected` and `start`, then runs the
pipeline of Pipecat's telephony template for that call: FastAPIWebsocketTransport with the
TwilioFrameSerializer (8 kHz in and out), STT, the user context aggregator with its Silero
VAD, LLM, TTS, output, assistant aggregator; a PipelineWorker run by a WorkerRunner that is
cancelled when the caller disconnects. The services are parley's fakes (`pipecat_services`),
built from the same settings as parley's. Turn-taking is set to parley's policy: Silero at
parley's threshold, start delay and end-of-speech silence, then a speech timeout equal to
parley's merge gap (instead of the Smart Turn model), so both wait the same silence.
The call counts as fully closed when the runner has returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner
from starlette.websockets import WebSocketDisconnect

from parley.benchmarks.events import EventLog
from parley.benchmarks.pipecat_services import FakeLLMService, FakeSTTService, FakeTTSService
from parley.benchmarks.spec import ServerSpec
from parley.session.config import DEFAULT_INSTRUCTIONS
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.factories import fake_llm, fake_stt, fake_tts

PHONE_RATE = 8000


class PipecatBench:
    """The app and what every call shares: the fakes (one each, as parley shares them)."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        settings = spec.parley_settings()
        context = settings.provider_context
        self.stt: FakeSTT = fake_stt(settings.fake, context)
        self.llm: FakeLLM = fake_llm(settings.fake, context)
        self.tts: FakeTTS = fake_tts(settings.fake, context)
        self.log = EventLog(spec.events)
        self.app = FastAPI(title="pipecat benchmark server")
        self.app.get("/health")(self.health)
        self.app.websocket("/twilio/media")(self.media)

    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    async def media(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            stream_sid, call_sid = await _read_start(websocket)
        except (WebSocketDisconnect, ValueError, KeyError) as exc:
            logger.warning(f"stream refused: {exc!r}")
            return
        stt = self.stt.per_call()  # this call's frames only, not its neighbours'
        self.log.write("call_started", call_sid=call_sid)
        try:
            await self._run_call(websocket, stream_sid, call_sid, stt)
        finally:
            self.log.write(
                "call_closed",
                call_sid=call_sid,
                stt_max_gap=stt.arrival_log.max_gap,
                stt_frames=stt.arrival_log.frames,
            )

    async def _run_call(
        self, websocket: WebSocket, stream_sid: str, call_sid: str, stt: FakeSTT
    ) -> None:
        policy = self.spec.policy
        serializer = TwilioFrameSerializer(
            stream_sid=stream_sid,
            call_sid=call_sid,
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )
        transport = FastAPIWebsocketTransport(
            websocket=websocket,
            params=FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                add_wav_header=False,
                serializer=serializer,
            ),
        )
        vad = SileroVADAnalyzer(
            params=VADParams(
                confidence=policy.vad_threshold,
                start_secs=policy.min_interruption_ms / 1000,
                stop_secs=policy.min_silence_ms / 1000,
            )
        )
        stop = SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=policy.merge_gap_ms / 1000)
        context = LLMContext(
            messages=[{"role": "system", "content": self.spec.instructions or DEFAULT_INSTRUCTIONS}]
        )
        user, assistant = LLMContextAggregatorPair(
            context,
            user_params=LLMUserAggregatorParams(
                vad_analyzer=vad, user_turn_strategies=UserTurnStrategies(stop=[stop])
            ),
        )
        pipeline = Pipeline(
            [
                transport.input(),
                FakeSTTService(stt, policy),
                user,
                FakeLLMService(self.llm),
                FakeTTSService(self.tts),
                transport.output(),
                assistant,
            ]
        )
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(
                audio_in_sample_rate=PHONE_RATE, audio_out_sample_rate=PHONE_RATE
            ),
        )
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)

        @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
        async def on_client_disconnected(transport: object, client: object) -> None:
            await runner.cancel()

        await runner.run()


async def _read_start(websocket: WebSocket) -> tuple[str, str]:
    """Twilio's first messages: `connected`, then `start` with the stream and call SIDs."""
    for _ in range(5):
        message = json.loads(await websocket.receive_text())
        if message.get("event") == "start":
            start = message["start"]
            return str(start["streamSid"]), str(start["callSid"])
    raise ValueError("no `start` among the first messages")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    spec = ServerSpec.model_validate_json(Path(args[0]).read_text())
    logger.remove()
    logger.add(sys.stderr, level=spec.log_level)
    bench = PipecatBench(spec)
    uvicorn.run(bench.app, host="127.0.0.1", port=spec.port, log_config=None, ws_ping_interval=20)


if __name__ == "__main__":
    main()
