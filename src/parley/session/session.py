"""A session: one conversation over one transport, from first frame to fully closed.

It wires the parts together and is the only place where conversation inputs meet the state
machine: `dispatch` feeds an input to the Conversation and carries out the actions it
returns, synchronously, in order. Inputs raised while actions run (the output's answer to a
pause, say) queue and follow at once, so the machine sees one input at a time and no lock is
needed (invariant 7). Because nothing in dispatch awaits, a VAD decision becomes a paused
output in the same step, before the next frame is read (invariant 2).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from enum import StrEnum

from parley import timing
from parley.audio.frames import AudioFrame
from parley.conversation.actions import (
    Action,
    CancelResponse,
    CancelTimer,
    DropResponse,
    Emit,
    EndSession,
    EndSpeech,
    PauseOutput,
    PredictTurn,
    ReleaseResponse,
    ResumeOutput,
    StartResponse,
    StartTimer,
    StopOutput,
)
from parley.conversation.inputs import (
    CancelRequested,
    ConversationInput,
    HangupRequested,
    InstructionsChanged,
    KeyPressed,
    OutputPaused,
    OutputStopped,
    PolicyChanged,
    ResponseRequested,
    SayRequested,
    Timer,
    TimerFired,
    ToolResultAdded,
    TruncateRequested,
    TurnPredicted,
    UserTextAdded,
)
from parley.conversation.machine import Conversation
from parley.conversation.policy import TurnTakingPolicy
from parley.conversation.state import Phase
from parley.events import AgentResponseDone, ErrorEvent, SessionEnded, SessionEvent, TurnMetrics
from parley.problems import ProblemCounter
from parley.providers.base import TurnDetector, TurnSuperseded
from parley.providers.scope import SessionScope
from parley.session.config import Providers, SessionConfig
from parley.session.listening import InputPath, STTRunner
from parley.session.output import PlayoutScheduler
from parley.session.port import (
    ClientSpeechStarted,
    ClientUtterance,
    DtmfDigit,
    EndOfSpeech,
    Hangup,
    InboundItem,
    PlaybackReport,
    Transport,
)
from parley.session.recorder import TurnRecorder
from parley.session.responder import Responder
from parley.session.supervisor import Supervisor
from parley.session.taps import AudioTaps
from parley.session.tools.model import ToolBox, ToolError
from parley.session.tools.runner import CallActions, ToolRunner
from parley.timing import TurnTimings
from parley.types import ChatMessage, ToolSpec

log = logging.getLogger("parley.session")
_serial = itertools.count(1)


class SessionTask(StrEnum):
    """The session's own tasks, by the names its supervisor knows them by."""

    TRANSPORT = "transport"
    OUTPUT = "output"
    STT = "stt"
    INPUT = "input"
    TURN = "turn detector"


# The session cannot go on without these; the transport's writer fails when the client
# stopped reading (transports/outbound.py).
_ESSENTIAL = (SessionTask.INPUT, SessionTask.OUTPUT, SessionTask.TRANSPORT)


class Session(CallActions):
    def __init__(
        self,
        transport: Transport,
        providers: Providers,
        config: SessionConfig | None = None,
        *,
        session_id: str | None = None,
        tools: ToolBox | None = None,
    ) -> None:
        self.config = config or SessionConfig()
        self.id = session_id or f"session-{next(_serial)}"
        self.transport = transport
        self.providers = providers
        history = (ChatMessage("system", self.config.instructions),)
        self.conversation = Conversation(self.config.policy, history)
        self._phase = self.conversation.phase  # last logged: a debug line on each change
        self.recorder = TurnRecorder(self.id, lambda t: self.emit(TurnMetrics(t)))
        self.supervisor = Supervisor(
            self.id, deadline=self.config.close_deadline_s, on_error=self._task_failed
        )
        self.observers: list[Callable[[SessionEvent], None]] = []
        self.audio_taps = AudioTaps()  # the call's audio as carried (recordings: session/taps)
        self.started_at: float | None = None  # session clock; set by run() if not before
        self.end_reason: str | None = None
        self.closed_at: float | None = None
        self._inbox: deque[ConversationInput] = deque()
        self._dispatching = False
        self._failed = False  # an action failed: the session is ending without the machine
        self._inbound_errors = ProblemCounter()  # inbound items that raised
        self._turn_problems = ProblemCounter()  # turn detector failures, logged sparingly
        self._timers: dict[Timer, asyncio.TimerHandle] = {}
        self._ended = asyncio.Event()
        # Built in run(), where a loop is running.
        self._output: PlayoutScheduler | None = None
        self._stt: STTRunner | None = None
        self._input: InputPath | None = None
        self._responder: Responder | None = None
        self._turn_detector: TurnDetector | None = None
        self._turn_question: asyncio.Task[None] | None = None
        self.turn_detector_failures = 0
        self._scope = SessionScope()  # per-call state of providers, closed with the session
        self.tools = tools or ToolBox()
        # What the built-in tools asked for, done once the response that asked has played out.
        self._after_response: dict[str, Callable[[], None]] = {}
        self._tool_runner: ToolRunner | None = None
        self.text_only = False  # responses in text, no speech (set_text_only)

    @property
    def turns(self) -> list[TurnTimings]:
        return self.recorder.completed

    @property
    def output(self) -> PlayoutScheduler:
        assert self._output is not None, "the session is not running"
        return self._output

    # --- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until hangup (either side) or a lost connection; return fully closed."""
        if self.started_at is None:
            self.started_at = timing.now()
        p, cfg = self.providers.for_session(self._scope), self.config
        self._output = PlayoutScheduler(
            self.transport,
            self.dispatch,
            frame_duration=cfg.output_frame_ms / 1000,
            lookahead=cfg.output_lookahead_ms / 1000,
            taps=self.audio_taps,
        )
        self._stt = STTRunner(
            p.stt, lambda: self.conversation.policy, self.supervisor, self.dispatch
        )
        self._input = InputPath(
            p.vad, self._stt, cfg.policy, p.stt.sample_rate, self.dispatch, self.emit
        )
        runner = None
        if p.llm.supports_tools:
            runner = ToolRunner(
                self.tools, self.supervisor, self.recorder, self.dispatch, self.emit, self
            )
        elif self.tools:
            log.warning("%s: the %s LLM cannot call tools; none are offered", self.id,
                        p.llm.name)  # fmt: skip
        self._tool_runner = runner
        self._responder = Responder(
            p.llm, p.tts, self._output, self.supervisor, self.recorder, self.dispatch, self.emit,
            runner,
        )  # fmt: skip
        self._turn_detector = p.turn
        spawn = self.supervisor.spawn
        spawn(SessionTask.TRANSPORT, self.transport.serve())
        spawn(SessionTask.OUTPUT, self._output.run())
        spawn(SessionTask.STT, self._stt.run())
        spawn(SessionTask.INPUT, self._receive())
        log.info("%s started", self.id)
        try:
            await self._ended.wait()
        finally:
            await self._close()

    def hangup(self, reason: str = "agent ended the call") -> None:
        """End the session from the server side: audio stops now, closing follows."""
        self.dispatch(HangupRequested(timing.now(), reason))

    # --- what the built-in tools ask for (CallActions) ------------------------------------

    def end_call_after(self, response_id: str, reason: str) -> None:
        """Hang up once `response_id` has played out (its goodbye heard)."""
        self._after_response[response_id] = lambda: self.hangup(reason)

    def transfer_after(self, response_id: str, target: str) -> None:
        """Hand the call to `target` once `response_id` has played out."""
        if not self.transport.can_transfer:
            raise ToolError(f"a {type(self.transport).__name__} call cannot be transferred")

        def transfer() -> None:
            self.supervisor.spawn("transfer", self._transfer(target))

        self._after_response[response_id] = transfer

    async def _transfer(self, target: str) -> None:
        try:
            await self.transport.transfer(target)
        except Exception as exc:
            log.error("%s: transfer failed: %s", self.id, exc)
            self.emit(ErrorEvent("tool_failed", f"transfer_call: {exc}"))

    def _response_done(self, event: AgentResponseDone) -> None:
        """Carry out what a tool asked for after this response: only if it was heard to the
        end (an interrupted goodbye means the person had more to say)."""
        action = self._after_response.pop(event.response_id, None)
        if action is not None and event.status == "completed":
            action()
        elif action is not None:
            log.info("%s: %s was %s: its end_call/transfer is called off", self.id,
                     event.response_id, event.status)  # fmt: skip

    # --- requests a client can make besides speaking (typed text, Realtime API calls) -----

    def submit_text(self, text: str, *, respond: bool = True) -> None:
        """A user message as text: answered now (interrupting the agent), or only recorded."""
        self.dispatch(UserTextAdded(timing.now(), text, respond))

    def say(self, text: str) -> None:
        """Speak `text` as it is, now (a response in flight is cancelled first)."""
        self.dispatch(SayRequested(timing.now(), text))

    def request_response(self) -> None:
        """Answer the history as it stands (manual turns); an error event if one is running."""
        self.dispatch(ResponseRequested(timing.now()))

    def cancel_response(self) -> None:
        """Stop the response in flight, keeping what was heard; an error event if none."""
        self.dispatch(CancelRequested(timing.now()))

    def truncate_response(self, response_id: str, played: float) -> None:
        """The client heard only `played` seconds of that response: cut it there."""
        self.dispatch(TruncateRequested(timing.now(), response_id, played))

    def update_instructions(self, instructions: str) -> None:
        self.dispatch(InstructionsChanged(timing.now(), instructions))

    def set_client_tools(self, tools: Sequence[ToolSpec], tool_choice: str = "auto") -> None:
        """The client's own functions, offered to the model from the next response on; the
        model's calls of them go to the client (AgentToolCall events)."""
        runner = self._tool_runner
        if runner is None:
            if tools:
                what = f"the {self.providers.llm.name} LLM cannot call functions"
                self.emit(ErrorEvent("tools_unsupported", f"{what}; the tools were not offered"))
            return
        runner.client_tools, runner.tool_choice = tuple(tools), tool_choice

    def set_text_only(self, text_only: bool) -> None:
        """Answer in text only from the next response on (no speech synthesized)."""
        self.text_only = text_only

    def add_tool_result(self, call_id: str, output: str) -> None:
        """The client's result of a function call: it joins the history after the call."""
        self.dispatch(ToolResultAdded(timing.now(), call_id, output))

    def update_policy(self, policy: TurnTakingPolicy) -> None:
        """New turn-taking settings from now on. The VAD restarts with them only if its own
        settings changed, so a client re-sending its settings loses no speech in progress;
        speech in progress when it does restart ends there (and joins up if it goes on)."""
        self.dispatch(PolicyChanged(timing.now(), policy))
        if self._input is not None and self._input.policy.vad_settings != policy.vad_settings:
            self._input.restart_vad(policy, timing.now())

    async def _receive(self) -> None:
        """The input loop: its only wait is for the next inbound item. One item that cannot
        be handled (a bug) is reported and skipped: no message a client sends ends the call."""
        while True:
            item = await self.transport.receive()
            try:
                if not self._take(item):
                    return
            except Exception as exc:
                self._inbound_failed(item, exc)

    def _inbound_failed(self, item: InboundItem | None, exc: Exception) -> None:
        """Report an inbound item that raised: the first with its traceback, then sparsely
        (a bug that hits every frame must not flood the log or the client)."""
        if not self._inbound_errors:
            log.exception("%s: an inbound %s was not handled", self.id, type(item).__name__)
        what = f"an inbound {type(item).__name__} was not handled ({type(exc).__name__})"
        if self._inbound_errors.note("inbound", log, f"{self.id}: {what}"):
            self.emit(ErrorEvent("internal_error", what))

    def _take(self, item: InboundItem | None) -> bool:
        """Handle one inbound item; False once the other side is gone."""
        listen = self._input
        assert listen is not None
        now = timing.now()
        match item:
            case AudioFrame():
                listen.accept(item, now)
                if self.audio_taps:
                    self.audio_taps.caller_audio(now, item)
            case PlaybackReport(response_id, played):
                self.output.confirm(response_id, played)
            case ClientSpeechStarted():
                listen.client_speech_started(now)
            case ClientUtterance(audio):
                listen.client_utterance(audio, now)
                if self.audio_taps:
                    self.audio_taps.caller_audio(now, audio)
            case EndOfSpeech():
                listen.end_speech(now)
            case DtmfDigit(digit):
                self.dispatch(KeyPressed(now, digit))
            case Hangup(reason):
                self.dispatch(HangupRequested(now, reason))
                return False
            case None:
                self.dispatch(HangupRequested(now, "connection closed"))
                return False
        return True

    async def _close(self) -> None:
        started = timing.now()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._output is not None and self._output.response_id is not None:
            self._output.stop()
        self.emit(SessionEnded(self.end_reason or "closed"))
        cleanups = {
            "transport close": self.transport.aclose(),
            "providers close": self._scope.aclose(),
        }
        if self._stt is not None:
            cleanups["STT close"] = self._stt.aclose()
        if self._input is not None:
            self._input.close()
        await self.supervisor.aclose(cleanups)
        self.closed_at = timing.now()
        log.info("%s closed in %.0f ms (%s)", self.id, (self.closed_at - started) * 1000,
                 self.end_reason)  # fmt: skip

    # --- the one way into the conversation ------------------------------------------------

    def dispatch(self, event: ConversationInput) -> None:
        """Feed `event`, and every input its actions raise, to the machine; carry out the
        actions. An action that fails leaves the conversation out of step with the world
        (a pause whose answer never came would leave it deaf), so the session fails closed:
        an error event, then the end of the call. Observers and the recorder only watch:
        their failures are logged and change nothing."""
        if self._failed:
            return
        self._inbox.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._inbox:
                current = self._inbox.popleft()
                self._watch(self.recorder.observe_input, current)
                for action in self.conversation.handle(current):
                    self._watch(self.recorder.observe_action, action, timing.now())
                    self._execute(action)
                self._note_phase(current)
        except Exception as exc:  # a bug in the machine or an action: end the call
            self._fail(exc)
        finally:
            self._dispatching = False

    def _note_phase(self, cause: ConversationInput) -> None:
        """Log a phase change, and tell the STT whether the agent now waits, paused, for
        the person's words (a whole-utterance STT transcribes as they speak only then)."""
        phase, was = self.conversation.phase, self._phase
        if phase is was:
            return
        log.debug("%s: phase %s -> %s (%s)", self.id, was, phase, type(cause).__name__)
        self._phase = phase
        if self._stt is not None and Phase.PAUSED in (phase, was):
            self._stt.agent_paused(phase is Phase.PAUSED)

    def _execute(self, action: Action) -> None:
        output, responder = self.output, self._responder
        assert responder is not None
        match action:
            case PauseOutput(response_id):
                played = output.pause()
                self._inbox.append(OutputPaused(timing.now(), response_id, played))
            case ResumeOutput():
                output.resume()
            case StopOutput(response_id):
                played = output.stop()
                self._inbox.append(OutputStopped(timing.now(), response_id, played))
            case StartResponse(response_id, messages, _, held, script):
                output.start(response_id, held=held)
                responder.start(response_id, messages, held=held, text_only=self.text_only,
                                script=script)  # fmt: skip
            case ReleaseResponse(response_id):
                responder.release(response_id)
                output.resume()
            case DropResponse(response_id):
                output.drop(response_id)
                responder.cancel(response_id, 0.0)
            case PredictTurn(token):
                self._predict_turn(token)
            case EndSpeech():
                assert self._input is not None
                self._input.end_turn(timing.now())
            case CancelResponse(response_id, _, played):
                output.drop(response_id)
                responder.cancel(response_id, played)
            case StartTimer(timer, token, deadline):
                self._cancel_timer(timer)
                fire = self._timer_callback(timer, token)
                self._timers[timer] = asyncio.get_running_loop().call_at(deadline, fire)
            case CancelTimer(timer):
                self._cancel_timer(timer)
            case Emit(event):
                self.emit(event)
            case EndSession(reason):
                self.end_reason = reason
                self._ended.set()

    def _predict_turn(self, token: int) -> None:
        """Ask the turn detector about the person's audio so far, off the event loop; its
        answer (or its failure) comes back as TurnPredicted. A newer question replaces an
        older one; the machine ignores answers that speech has overtaken."""
        detector, listen = self._turn_detector, self._input
        assert listen is not None
        if self._turn_question is not None:
            self.supervisor.retire(self._turn_question)
            self._turn_question = None
        if detector is None or detector.name != self.conversation.policy.turn_detector:
            name = self.conversation.policy.turn_detector
            self._turn_failed(token, f"no turn detector {name!r} is loaded")
            return
        audio = listen.turn_audio()
        self._turn_question = self.supervisor.spawn(
            SessionTask.TURN, self._ask_turn(detector, token, audio)
        )

    async def _ask_turn(self, detector: TurnDetector, token: int, audio: AudioFrame) -> None:
        try:
            probability = await detector.predict(audio)
        except TurnSuperseded:
            return  # another question (maybe another session's) is newer: silence decides
        except Exception as exc:
            self._turn_failed(token, f"{type(exc).__name__}: {exc}")
            return
        complete = probability >= self.conversation.policy.turn_detector_threshold
        self.dispatch(TurnPredicted(timing.now(), token, complete, probability))

    def _turn_failed(self, token: int, message: str) -> None:
        """The detector could not answer: the plain silence policy decides this turn."""
        self.turn_detector_failures += 1
        self._turn_problems.note(
            "turn_detector",
            log,
            f"{self.id}: turn detector failed ({message}); ending turns by silence",
        )
        self.dispatch(TurnPredicted(timing.now(), token, None))

    def _timer_callback(self, timer: Timer, token: int) -> Callable[[], None]:
        def fire() -> None:
            self._timers.pop(timer, None)
            self.dispatch(TimerFired(timing.now(), timer, token))

        return fire

    def _cancel_timer(self, timer: Timer) -> None:
        handle = self._timers.pop(timer, None)
        if handle is not None:
            handle.cancel()

    # --- telling the world ----------------------------------------------------------------

    def emit(self, event: SessionEvent) -> None:
        if isinstance(event, AgentResponseDone):
            self._response_done(event)
        self.transport.send_event(event)
        for observer in self.observers:
            self._watch(observer, event)

    def _watch(self, watcher: Callable[..., None], *args: object) -> None:
        """Call an observer (or the recorder): its failure is logged, and nothing else."""
        try:
            watcher(*args)
        except Exception:
            log.exception("%s: an observer failed on %s", self.id, type(args[0]).__name__)

    def _fail(self, exc: Exception) -> None:
        """Fail closed: tell the client, and end the session without the machine."""
        log.exception("%s: dispatch failed; ending the session", self.id)
        self._failed = True
        self._inbox.clear()
        self.end_reason = f"internal error: {type(exc).__name__}"
        try:
            self.emit(ErrorEvent("internal_error", f"{type(exc).__name__}: {exc}"))
        except Exception:
            log.exception("%s: could not report the failure", self.id)
        self._ended.set()

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.emit(ErrorEvent("internal_error", f"{name} failed: {type(exc).__name__}: {exc}"))
        if name in _ESSENTIAL:
            self.dispatch(HangupRequested(timing.now(), f"{name} failed"))
