"""Client events as session calls and inbound audio.

Audio: with server VAD, appended audio goes to the session at once, in 20 ms frames, so
parley's own VAD and STT hear it as a stream. With manual turns (turn_detection null) it is
buffered here, and input_audio_buffer.commit hands the whole utterance over as client-cut
speech (ClientSpeechStarted + ClientUtterance), under a policy that neither answers nor
interrupts by itself. A commit while server VAD hears speech ends that speech: an EndOfSpeech
item, in order with the audio, restarts the VAD there (no made-up silence, so the client's
audio timeline stays its own).

The rest maps onto session requests (transports.base.SessionControl):
conversation.item.create (user text or audio, never answered by itself), response.create /
response.cancel, conversation.item.truncate (the client's audio_end_ms becomes the played
position, invariant 4) and session.update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

from parley.audio.frames import AudioFrame
from parley.session.port import (
    ClientSpeechStarted,
    ClientUtterance,
    EndOfSpeech,
    InboundItem,
)
from parley.transports.realtime.client_events import (
    AppendAudio,
    CancelResponse,
    ClearAudio,
    ClientEvent,
    CommitAudio,
    CreateItem,
    CreateResponse,
    DeleteItem,
    ResponseParams,
    RetrieveItem,
    SessionUpdateBeta,
    SessionUpdateGA,
    TruncateItem,
)
from parley.transports.realtime.config import FunctionTool, policy_for, server_vad_of
from parley.transports.realtime.context import Context
from parley.transports.realtime.formats import (
    RATES,
    AudioPayloadError,
    decode_audio,
    frames_of,
    join_audio,
)
from parley.transports.realtime.item_requests import ItemRequests
from parley.transports.realtime.items import UserItem
from parley.transports.realtime.narrator import Narrator
from parley.transports.realtime.server_events import (
    Cleared,
    new_id,
)
from parley.transports.realtime.session_update import (
    Problem,
    SessionChange,
    change_from_beta,
    change_from_ga,
    parse_function_tool,
    parse_tool_choice,
)
from parley.types import ToolSpec

MIN_COMMIT_S = 0.1  # the API refuses to commit less than 100 ms of audio
POLICY_NAMES = {
    "vad_threshold": "threshold",
    "prefix_padding_ms": "prefix_padding_ms",
    "min_silence_ms": "silence_duration_ms",
}


class ClientRequests:
    def __init__(
        self,
        ctx: Context,
        narrator: Narrator,
        deliver: Callable[[Sequence[InboundItem]], None],
        set_output_rate: Callable[[int], None],
        max_buffer_s: float,
    ) -> None:
        self.ctx = ctx
        self.narrator = narrator
        self._deliver = deliver
        self._set_output_rate = set_output_rate
        self._max_buffer_s = max_buffer_s
        self._buffer: list[AudioFrame] = []  # manual turns: appended, not yet committed
        self._buffered_s = 0.0
        self.items = ItemRequests(ctx, narrator, deliver, max_buffer_s)
        self._instructions_override = False  # response.create's instructions are in force
        self._tools_override = False  # response.create's tools are in force
        self._modalities_override = False  # response.create's output modalities are in force

    def handle(self, event: ClientEvent) -> None:
        match event:
            case SessionUpdateGA() | SessionUpdateBeta():
                self._update_session(event)
            case AppendAudio(audio=payload):
                self._append(payload)
            case CommitAudio():
                self._commit()
            case ClearAudio():
                self._buffer, self._buffered_s = [], 0.0
                self.ctx.send(Cleared())
            case CreateItem():
                self.items.create(event)
            case TruncateItem():
                self.items.truncate(event)
            case CreateResponse(response=params):
                self._create_response(params)
            case CancelResponse(response_id=response_id):
                self._cancel_response(response_id)
            case RetrieveItem(item_id=item_id):
                self.items.retrieve(item_id)
            case DeleteItem(item_id=item_id):
                self.items.delete(item_id)

    # --- session.update -------------------------------------------------------------------------

    def _update_session(self, event: SessionUpdateGA | SessionUpdateBeta) -> None:
        ctx = self.ctx
        defaults = server_vad_of(ctx.base_policy)
        if isinstance(event, SessionUpdateGA):
            change = change_from_ga(event.session, ctx.config, defaults)
            where = "session.audio.input.turn_detection"
        else:
            change = change_from_beta(event.session, ctx.config, defaults)
            where = "session.turn_detection"
        try:
            policy = policy_for(change.config.turn_detection, ctx.base_policy)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            field = POLICY_NAMES.get(str(error["loc"][0]), str(error["loc"][0]))
            ctx.error(
                "invalid_value",
                f"Invalid value for '{where}.{field}': {error['msg']}.",
                f"{where}.{field}",
            )
            return
        for problem in change.unsupported:
            ctx.error("unsupported_value", problem.message, problem.param)
        self._apply(
            change, policy_changed=change.config.turn_detection != ctx.config.turn_detection
        )
        session = ctx.live()
        if not self.items.holding:
            session.update_policy(policy)
        ctx.send_session("session.updated")

    def _apply(self, change: SessionChange, *, policy_changed: bool) -> None:
        ctx, old, new = self.ctx, self.ctx.config, change.config
        ctx.config = new
        if new.instructions != old.instructions and not self._instructions_override:
            ctx.live().update_instructions(new.instructions)
        tools_changed = (new.tools, new.tool_choice) != (old.tools, old.tool_choice)
        if tools_changed and not self._tools_override:
            self._offer_tools(new.tools, new.tool_choice)
        if new.text_only != old.text_only and not self._modalities_override:
            self._set_text_only(new.text_only)
        if new.output_format != old.output_format:
            self._set_output_rate(RATES[new.output_format])
        if policy_changed and new.turn_detection is None:
            ctx.items.open_user = None  # speech in progress will not be committed by the VAD
        if policy_changed and old.turn_detection is None:
            self._buffer, self._buffered_s = [], 0.0

    # --- the input audio buffer -------------------------------------------------------------------

    def _append(self, payload: str) -> None:
        try:
            audio = decode_audio(payload, self.ctx.config.input_format)
        except AudioPayloadError as exc:
            self.ctx.error("invalid_value", f"Invalid 'audio': {exc}.", "audio")
            return
        if not self.ctx.manual_turns:
            self._deliver(frames_of(audio))
            return
        if self._buffered_s + audio.duration > self._max_buffer_s:
            self.ctx.error(
                "input_audio_buffer_too_large",
                f"The input audio buffer holds "
                f"{self._buffered_s:.1f} s; appending {audio.duration:.1f} s would "
                f"pass the {self._max_buffer_s:g} s limit. Commit or clear it "
                "first.",
                "audio",
            )
            return
        self._buffer.append(audio)
        self._buffered_s += audio.duration

    def _commit(self) -> None:
        ctx = self.ctx
        if not ctx.manual_turns:
            if not self.narrator.user_speaking:
                ctx.error(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio "
                    "buffer: the server VAD has already committed all speech, and no "
                    "speech is in progress.",
                )
                return
            self._deliver([EndOfSpeech()])  # in order with the audio: the VAD ends it there
            return
        if self._buffered_s < MIN_COMMIT_S:
            ctx.error(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: "
                "buffer too small. Expected at least 100ms of audio, but buffer only has "
                f"{self._buffered_s * 1000:.2f}ms of audio.",
            )
            return
        audio = join_audio(self._buffer)
        self._buffer, self._buffered_s = [], 0.0
        item = UserItem(new_id("item"), audio_s=audio.duration)
        self.narrator.commit_user_item(item)
        self._deliver([ClientSpeechStarted(), ClientUtterance(audio)])

    # --- responses --------------------------------------------------------------------------------

    def _create_response(self, params: ResponseParams | None) -> None:
        ctx = self.ctx
        if params is not None and not self._response_params_ok(params):
            return
        self.narrator.pending_metadata = params.metadata if params is not None else None
        session = ctx.live()
        if params is not None and params.instructions is not None:
            self._instructions_override = True
            session.update_instructions(params.instructions)
        if params is not None and (params.tools is not None or params.tool_choice is not None):
            self._response_tools(params)
        modalities = None if params is None else (params.output_modalities or params.modalities)
        if modalities is not None:
            self._modalities_override = True
            self._set_text_only("audio" not in modalities)
        session.request_response()  # starts now, later (a turn is being transcribed) or errs

    def _response_tools(self, params: ResponseParams) -> None:
        """response.create's tools and tool_choice, for that response only (they replace
        the session's; a tool that is not a function is refused, the rest apply)."""
        problems: list[Problem] = []
        tools, choice = self.ctx.config.tools, self.ctx.config.tool_choice
        if params.tools is not None:
            parsed = [parse_function_tool(t, f"response.tools[{i}]", problems)
                      for i, t in enumerate(params.tools)]  # fmt: skip
            tools = tuple(t for t in parsed if t is not None)
        if params.tool_choice is not None:
            where = "response.tool_choice"
            choice = parse_tool_choice(params.tool_choice, where, problems) or choice
        for problem in problems:
            self.ctx.error("unsupported_value", problem.message, problem.param)
        self._tools_override = True
        self._offer_tools(tools, choice)

    def _set_text_only(self, text_only: bool) -> None:
        self.ctx.text_only = text_only
        self.ctx.live().set_text_only(text_only)

    def _offer_tools(self, tools: Sequence[FunctionTool], choice: str) -> None:
        specs = [ToolSpec(t.name, t.description, t.parameters) for t in tools]
        self.ctx.live().set_client_tools(specs, choice)

    def response_started(self) -> None:
        """A response began: per-response instructions and tools have done their job."""
        if self._instructions_override:
            self._instructions_override = False
            self.ctx.live().update_instructions(self.ctx.config.instructions)
        if self._tools_override:
            self._tools_override = False
            self._offer_tools(self.ctx.config.tools, self.ctx.config.tool_choice)
        if self._modalities_override:
            self._modalities_override = False
            self._set_text_only(self.ctx.config.text_only)

    def response_refused(self) -> None:
        self.narrator.pending_metadata = None
        self.response_started()

    def _response_params_ok(self, params: ResponseParams) -> bool:
        problems: list[tuple[str, str]] = []
        if params.conversation not in (None, "auto"):
            problems.append(
                (
                    "response.conversation",
                    "out-of-band responses (conversation 'none' or another id) are not supported",
                )
            )
        if params.input is not None:
            problems.append(
                (
                    "response.input",
                    "a response's own input items are not supported: it answers the conversation",
                )
            )
        if params.prompt is not None:
            problems.append(("response.prompt", "stored prompts are not supported"))
        for param, message in problems:
            self.ctx.error("unsupported_value", f"{message}; no response was created.", param)
        return not problems

    def _cancel_response(self, response_id: str | None) -> None:
        current = self.ctx.items.current
        if response_id is not None and (current is None or current.response_id != response_id):
            self.ctx.error(
                "response_cancel_not_active",
                f"Cancellation failed: no active response with id {response_id[:60]!r}.",
            )
            return
        if current is not None:
            current.stopped_by_client = True
        self.ctx.live().cancel_response()
