"""Session events in the Realtime API's words.

The person's side: with server VAD, speech start and stop become
input_audio_buffer.speech_started / speech_stopped, then committed and a user item; final
transcripts go to the oldest item still waiting for one, and the session's
UserSpeechTranscribed completes it (conversation.item.input_audio_transcription.*). With
manual turns the transport itself commits, so the session's speech events say nothing new.

The agent's side: a parley response is one Realtime response with one assistant item and
one audio content part: response.created, output_item.added, the item, content_part.added;
transcript deltas per spoken segment (sent as text goes to speech, ahead of its audio);
audio deltas (from the transport's send_audio, paced in real time); then the done events
with what the person heard, and response.done: completed, or cancelled (turn_detected when
speech interrupted it, client_cancelled after response.cancel or a truncate), or failed.

A call of one of the client's functions is a `function_call` output item after the message
(output_index 1, 2, ...): output_item.added, the item, the arguments (one delta: parley's
LLM interface hands a call over whole), arguments.done, output_item.done; response.done
lists it. The client runs it, sends a function_call_output item and asks for a response.
"""

from __future__ import annotations

from collections.abc import Callable

from parley.events import (
    AgentResponseDone,
    AgentResponseStarted,
    AgentResumed,
    AgentToolCall,
    AgentTranscript,
    ErrorEvent,
    ResponseUsage,
    SessionEvent,
    UserSpeechStarted,
    UserSpeechStopped,
    UserSpeechTranscribed,
    UserTranscript,
)
from parley.transports.realtime.context import Context
from parley.transports.realtime.items import AssistantItem, UserItem
from parley.transports.realtime.server_events import (
    AudioDone,
    BetaResponse,
    Committed,
    ContentPartEvent,
    DurationUsage,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    FunctionCallItem,
    GAResponse,
    InputAudio,
    InputText,
    ItemEvent,
    ItemStatus,
    MessageItem,
    OutputAudio,
    OutputItemEvent,
    OutputText,
    Part,
    ResponseEvent,
    ResponseStatus,
    SpeechStarted,
    SpeechStopped,
    StatusDetails,
    StatusError,
    TextDelta,
    TextDone,
    TextPart,
    TranscriptDelta,
    TranscriptDone,
    TranscriptionCompleted,
    TranscriptionDelta,
    TranscriptionError,
    TranscriptionFailed,
    Usage,
    new_id,
    render_response,
)

CLIENT_ERRORS = frozenset(
    {"conversation_already_has_active_response", "response_cancel_not_active"}
)
RESPONSE_FAILURES = frozenset({"llm_failed", "tts_failed"})
TRANSCRIPTION_FAILURES = frozenset({"stt_failed", "stt_timeout"})


class Narrator:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.conversation_id = new_id("conv")
        self.pending_metadata: dict[str, str] | None = None  # response.create's, for the next
        self.on_transcribed: Callable[[UserItem], None] = lambda item: None

    @property
    def user_speaking(self) -> bool:
        """Server VAD: between speech_started and speech_stopped (an item is open)."""
        return self.ctx.items.open_user is not None

    def tell(self, event: SessionEvent) -> None:
        match event:
            case UserSpeechStarted(at):
                if not (self.ctx.manual_turns or self.ctx.client_speech_delivered):
                    self._speech_started(at)
            case UserSpeechStopped(at):
                if not (self.ctx.manual_turns or self.ctx.client_speech_delivered):
                    self._speech_stopped(at)
            case UserTranscript(text, final=True):
                self._final_transcript(text)
            case UserSpeechTranscribed():
                if self.ctx.items.pending:
                    self._transcribed(self.ctx.items.pending.popleft())
            case AgentResumed():
                # Speech that paused the agent was let go: anything it still awaits is over.
                while self.ctx.items.pending:
                    self._transcribed(self.ctx.items.pending.popleft())
            case AgentResponseStarted(response_id):
                self._response_started(response_id)
            case AgentTranscript(response_id, text):
                self._agent_text(response_id, text)
            case AgentToolCall():
                self._function_call(event)
            case ResponseUsage():
                record = self.ctx.items.response(event.response_id)
                if record is not None:
                    record.usage = Usage.of(event.input_tokens, event.output_tokens)
            case AgentResponseDone():
                self._response_done(event)
            case ErrorEvent(code, message):
                self._error(code, message)

    # --- the person ---------------------------------------------------------------------------

    def _speech_started(self, at: float) -> None:
        """audio_start_ms is where the item's audio begins, as OpenAI's server puts it: the
        onset less the prefix padding (never before the session's first audio)."""
        item = self.ctx.items.open_user_item()
        item.start_ms = self.ctx.audio_ms(at)
        start_ms = max(0, item.start_ms - self.ctx.policy().prefix_padding_ms)
        self.ctx.send(SpeechStarted(audio_start_ms=start_ms, item_id=item.id))

    def _speech_stopped(self, at: float) -> None:
        """audio_end_ms is where the server stopped, as OpenAI's puts it: the end of the
        voiced audio plus the silence duration that ended it (never past the audio the client
        sent: speech a commit ends, ends where its audio did)."""
        item = self.ctx.items.open_user_item()
        end_ms = self.ctx.audio_ms(at)
        item.audio_s = max(0, end_ms - item.start_ms) / 1000
        silence = self.ctx.policy().min_silence_ms
        stopped_ms = max(end_ms, min(end_ms + silence, round(self.ctx.input_ms)))
        self.ctx.send(SpeechStopped(audio_end_ms=stopped_ms, item_id=item.id))
        self.commit_user_item(None)

    def commit_user_item(self, item: UserItem | None, *, from_buffer: bool = True) -> UserItem:
        """The user item is in the conversation: committed (from the audio buffer) and
        added; its transcript follows."""
        item, previous = self.ctx.items.commit_user_item(item)
        if from_buffer:
            self.ctx.send(Committed(item_id=item.id, previous_item_id=previous))
        message = MessageItem(
            id=item.id, status="completed", role="user", content=[InputAudio(transcript=None)]
        )
        self.ctx.send(
            ItemEvent(type=self.ctx.dialect.item_added, previous_item_id=previous, item=message)
        )
        return item

    def _final_transcript(self, text: str) -> None:
        item = self.ctx.items.transcript_target()
        if item is None:  # words the VAD did not hear: an item of their own, complete at once
            item = self.commit_user_item(None)
            self.ctx.items.pending.remove(item)
            item.transcript.append(text)
            self.complete_user_item(item)
            return
        delta = f" {text}" if item.transcript else text
        item.transcript.append(text)
        if self.ctx.transcribing:
            self.ctx.send(TranscriptionDelta(item_id=item.id, delta=delta))

    def _transcribed(self, item: UserItem) -> None:
        self.complete_user_item(item)
        self.on_transcribed(item)

    def complete_user_item(self, item: UserItem) -> None:
        if self.ctx.transcribing:
            self.ctx.send(
                TranscriptionCompleted(
                    item_id=item.id,
                    transcript=item.text,
                    usage=DurationUsage(seconds=round(item.audio_s, 3)),
                )
            )
        if not self.ctx.dialect.beta:
            transcript = item.text if self.ctx.transcribing else None
            message = MessageItem(
                id=item.id,
                status="completed",
                role="user",
                content=[InputAudio(transcript=transcript)],
            )
            self.ctx.send(
                ItemEvent(type="conversation.item.done", previous_item_id=None, item=message)
            )

    # --- the agent ------------------------------------------------------------------------------

    def _response_started(self, parley_id: str) -> None:
        record = self.ctx.items.start_response(parley_id, self.pending_metadata)
        record.text_only = self.ctx.text_only
        self.pending_metadata = None
        item = self._assistant_message(record, "in_progress", None)
        self.ctx.send(
            ResponseEvent(
                type="response.created", response=self._response(record, "in_progress", [])
            )
        )
        self.ctx.send(
            OutputItemEvent(
                type="response.output_item.added", response_id=record.response_id, item=item
            )
        )
        previous = self.ctx.items.append(record.item_id)
        self.ctx.send(
            ItemEvent(type=self.ctx.dialect.item_added, previous_item_id=previous, item=item)
        )
        self.ctx.send(
            ContentPartEvent(
                type="response.content_part.added",
                response_id=record.response_id,
                item_id=record.item_id,
                part=TextPart(text="") if record.text_only else Part(transcript=""),
            )
        )

    def _agent_text(self, parley_id: str, text: str) -> None:
        record = self.ctx.items.response(parley_id)
        if record is None:
            return
        delta = f" {text}" if record.segments else text
        record.segments.append(text)
        if record.text_only:
            ids = {"response_id": record.response_id, "item_id": record.item_id}
            self.ctx.send(TextDelta(type=self.ctx.dialect.text_delta, delta=delta, **ids))
            return
        self.ctx.send(
            TranscriptDelta(
                type=self.ctx.dialect.transcript_delta,
                response_id=record.response_id,
                item_id=record.item_id,
                delta=delta,
            )
        )

    def _function_call(self, event: AgentToolCall) -> None:
        record = self.ctx.items.response(event.response_id)
        if record is None:
            return
        index = len(record.calls) + 1  # the message is output 0
        item = FunctionCallItem(id=new_id("item"), status="in_progress", call_id=event.call_id,
                                name=event.name, arguments="")  # fmt: skip
        ids = {"response_id": record.response_id, "item_id": item.id, "output_index": index}
        self.ctx.send(OutputItemEvent(type="response.output_item.added",
                                      response_id=record.response_id, output_index=index,
                                      item=item))  # fmt: skip
        previous = self.ctx.items.append(item.id)
        self.ctx.send(ItemEvent(type=self.ctx.dialect.item_added, previous_item_id=previous,
                                item=item))  # fmt: skip
        if event.arguments:
            self.ctx.send(
                FunctionCallArgumentsDelta(call_id=event.call_id, delta=event.arguments, **ids)
            )
        self.ctx.send(FunctionCallArgumentsDone(call_id=event.call_id, name=event.name,
                                                arguments=event.arguments, **ids))  # fmt: skip
        done = item.model_copy(update={"status": "completed", "arguments": event.arguments})
        record.calls.append(done)
        self.ctx.items.call_ids[event.call_id] = None
        self.ctx.send(OutputItemEvent(type="response.output_item.done",
                                      response_id=record.response_id, output_index=index,
                                      item=done))  # fmt: skip
        if not self.ctx.dialect.beta:
            self.ctx.send(
                ItemEvent(type="conversation.item.done", previous_item_id=previous, item=done)
            )

    def _response_done(self, event: AgentResponseDone) -> None:
        record = self.ctx.items.response(event.response_id)
        if record is None:
            return
        if self.ctx.items.current is record:
            self.ctx.items.current = None
        ids = {"response_id": record.response_id, "item_id": record.item_id}
        heard = event.text
        part: Part | TextPart
        if record.text_only:
            self.ctx.send(TextDone(type=self.ctx.dialect.text_done, text=heard, **ids))
            part = TextPart(text=heard)
        else:
            self.ctx.send(AudioDone(type=self.ctx.dialect.audio_done, **ids))
            self.ctx.send(
                TranscriptDone(type=self.ctx.dialect.transcript_done, transcript=heard, **ids)
            )
            part = Part(transcript=heard)
        self.ctx.send(ContentPartEvent(type="response.content_part.done", part=part, **ids))
        status: ResponseStatus = "completed"
        details: StatusDetails | None = None
        if record.failure is not None:
            status = "failed"
            code, message = record.failure
            details = StatusDetails(type="failed", error=StatusError(code=code, message=message))
        elif event.status != "completed":
            status = "cancelled"
            by_client = event.status == "cancelled" or record.stopped_by_client
            reason = "client_cancelled" if by_client else "turn_detected"
            details = StatusDetails(type="cancelled", reason=reason)
        item = self._assistant_message(
            record, "completed" if status == "completed" else "incomplete", heard
        )
        self.ctx.send(
            OutputItemEvent(
                type="response.output_item.done", response_id=record.response_id, item=item
            )
        )
        if not self.ctx.dialect.beta:
            self.ctx.send(
                ItemEvent(type="conversation.item.done", previous_item_id=None, item=item)
            )
        response = self._response(record, status, [item, *record.calls], details)
        self.ctx.send(ResponseEvent(type="response.done", response=response))

    def _assistant_message(
        self, record: AssistantItem, status: ItemStatus, transcript: str | None
    ) -> MessageItem:
        content: list[InputText | InputAudio | OutputAudio | OutputText] = []
        if transcript is not None and record.text_only:
            content = [OutputText(type=self.ctx.dialect.assistant_text, text=transcript)]
        elif transcript is not None:
            content = [OutputAudio(type=self.ctx.dialect.assistant_audio, transcript=transcript)]
        return MessageItem(id=record.item_id, status=status, role="assistant", content=content)

    def _response(
        self,
        record: AssistantItem,
        status: ResponseStatus,
        output: list[MessageItem | FunctionCallItem],
        details: StatusDetails | None = None,
    ) -> GAResponse | BetaResponse:
        common = {
            "id": record.response_id,
            "status": status,
            "status_details": details,
            "output": output,
            "conversation_id": self.conversation_id,
            "usage": None if status == "in_progress" else (record.usage or Usage()),
            "metadata": record.metadata,
        }
        return render_response(self.ctx.dialect, self.ctx.config, common,
                               text_only=record.text_only)  # fmt: skip

    # --- errors ---------------------------------------------------------------------------------

    def _error(self, code: str, message: str) -> None:
        if code in CLIENT_ERRORS:
            self.ctx.error(code, message)
            return
        if code in RESPONSE_FAILURES and self.ctx.items.current is not None:
            self.ctx.items.current.failure = (code, message)
        if code in TRANSCRIPTION_FAILURES and self.ctx.items.pending:
            # The STT will send nothing more for the speech that ended: those items are over.
            told = self.ctx.transcribing
            while self.ctx.items.pending:
                item = self.ctx.items.pending.popleft()
                if told:
                    error = TranscriptionError(code=code, message=message)
                    self.ctx.send(TranscriptionFailed(item_id=item.id, error=error))
                self.on_transcribed(item)
            if told:
                return
        self.ctx.error(code, message, kind="server_error")
