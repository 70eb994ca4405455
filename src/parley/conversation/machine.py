"""The conversation: one pure state machine that owns all conversation state (invariant 7).

It holds who is speaking, the response in flight and whether it is paused, the person's
words not yet answered, and the history. It turns inputs into actions and does no I/O and no
waiting: the runtime feeds it timestamped inputs one at a time and carries out its actions.

The turn-taking rules it applies (all numbers come from TurnTakingPolicy):
- Speech over a response pauses it at once (invariant 2 and 5); a response not yet audible
  is held back the same way.
- While paused, words that cannot be a backchannel interrupt: the response is cancelled and
  the history keeps only what was heard (invariant 4). When the speech has ended and all its
  transcripts are in, a backchannel or no words at all resumes playback where it paused.
  If the STT says nothing at all within the false-interruption timeout, playback resumes too.
- While paused, a short silence (paused_decision_silence_ms) decides without waiting for the
  turn-ending one: words already known to be a backchannel resume playback at once (their
  final transcript, if it says the same, is then ignored); otherwise the speech ends there so
  the final words come at once, and a backchannel partial that comes before them resumes
  too. A turn that ends this way and interrupts is still committed no sooner than the plain
  silence policy would have ended it.
- A turn is answered once the person is silent, every final transcript of their speech is in,
  and the merge gap after the turn-ending silence has passed. Speech or segments arriving
  before then join the turn, so one LLM call answers the merged text.
- With a turn detector, a short silence asks it whether the turn is complete: 'complete'
  ends the person's speech at once, 'not finished' waits for the longest silence, and no
  answer (a failure, or none by min_silence_ms) leaves the plain silence policy in charge.
- A preemptive answer starts once the turn's words are in, before the merge gap ends. It is
  held: nothing plays and no client hears of it until the turn is committed with the very
  messages it was given; otherwise it is dropped and leaves no trace.
- Keys pressed on a phone keypad are deliberate input: the first pauses the agent, and the
  whole entry (up to an end key or a pause) joins the turn as typed text.
"""

from __future__ import annotations

from typing import Literal

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
from parley.conversation.backchannel import could_be_backchannel, is_backchannel, words_of
from parley.conversation.history import History, heard_words, join_words
from parley.conversation.inputs import (
    CancelRequested,
    ConversationInput,
    HangupRequested,
    InstructionsChanged,
    KeyPressed,
    OutputPaused,
    OutputStopped,
    PlaybackFinished,
    PlaybackStarted,
    PolicyChanged,
    ResponseFailed,
    ResponseRequested,
    ResponseStage,
    SayRequested,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    Timer,
    TimerFired,
    ToolCallsFinished,
    ToolCallsRequested,
    ToolResultAdded,
    TranscriptFailed,
    TranscriptReceived,
    TruncateRequested,
    TurnPredicted,
    UserTextAdded,
    WordsAligned,
)
from parley.conversation.policy import TurnTakingPolicy
from parley.conversation.state import CancelReason, Phase, Response, SpokenResponse, UserSpeech
from parley.events import (
    AgentPaused,
    AgentResponseDone,
    AgentResponseStarted,
    AgentResumed,
    AgentSpeaking,
    AgentToolCall,
    ErrorCode,
    ErrorEvent,
    SessionEvent,
    UserDtmf,
    UserSpeechStarted,
    UserSpeechStopped,
    UserSpeechTranscribed,
    UserTranscript,
)
from parley.types import ChatMessage

_FAILED: dict[ResponseStage, ErrorCode] = {"llm": "llm_failed", "tts": "tts_failed"}


class Conversation:
    """Feed inputs with `handle`; carry out the returned actions in order."""

    def __init__(
        self, policy: TurnTakingPolicy | None = None, history: tuple[ChatMessage, ...] = ()
    ) -> None:
        self._policy = policy or TurnTakingPolicy()
        self._history = History(history)
        self._user: UserSpeech | None = None
        self._user_speaking = False
        self._response: Response | None = None
        self._responses_started = 0
        self._timers: dict[Timer, int] = {}
        self._timer_serial = 0
        self._ending: str | None = None
        self._respond_when_committed = False  # a response was asked for before the turn ended
        self._keys = ""  # keypad entry in progress
        self._say_next: str | None = None  # text to speak once the response in flight ends
        self._spoken: list[SpokenResponse] = []  # the last few finished responses
        # A preemptive answer being generated, unheard, and the messages it was given.
        self._held: Response | None = None
        self._held_messages: tuple[ChatMessage, ...] = ()
        self._held_failures: list[ResponseFailed] = []
        self._asked: int | None = None  # the turn detector's question in flight
        self._early = False  # the silence reached the preemptive point (no detector)
        self._questions = 0
        # Speech ended early by the paused decision: its last voiced audio (the turn's
        # commit waits as if min_silence_ms had passed), and finals of speech whose
        # backchannel already resumed the agent (ignored when they say the same).
        self._decided_voiced: float | None = None
        self._paused_voiced = 0.0
        self._absorb_finals = 0
        # The paused decision ended the speech without words to decide on: a backchannel
        # partial that comes later (a whole-utterance STT's run) resumes at once.
        self._decided_without_words = False
        self._actions: list[Action] = []

    # --- what others may read -------------------------------------------------------------

    @property
    def policy(self) -> TurnTakingPolicy:
        """The turn-taking settings in force (changed only by a PolicyChanged input)."""
        return self._policy

    @property
    def history(self) -> tuple[ChatMessage, ...]:
        return self._history.messages

    @property
    def phase(self) -> Phase:
        """The phase the state is in now (derived each time: nothing to keep in sync)."""
        response = self._response
        if self._ending is not None:
            return Phase.ENDING
        if response is not None:
            if response.paused:
                return Phase.PAUSED
            return Phase.SPEAKING if response.audible else Phase.THINKING
        if self._user_speaking or self._keys:
            return Phase.LISTENING
        if self._user is not None:
            return Phase.WAITING
        return Phase.IDLE

    @property
    def response_id(self) -> str | None:
        return self._response.id if self._response else None

    @property
    def ended(self) -> bool:
        return self._ending is not None

    # --- the one entry point --------------------------------------------------------------

    def handle(self, event: ConversationInput) -> list[Action]:
        self._actions = []
        if self._ending is None or isinstance(event, OutputStopped):
            self._dispatch(event)
        return self._actions

    def _dispatch(self, event: ConversationInput) -> None:
        match event:
            case SpeechStarted():
                self._on_speech_started(event)
            case SpeechEnded():
                self._on_speech_ended(event)
            case SpeechPaused():
                self._on_speech_paused(event)
            case SpeechResumed():
                self._drop_held()  # the person goes on
                self._forget_turn_check()
            case TurnPredicted():
                self._on_turn_predicted(event)
            case TranscriptReceived():
                self._on_transcript(event)
            case TranscriptFailed():
                self._on_transcript_failed(event)
            case TimerFired():
                self._on_timer(event)
            case WordsAligned():
                if self._is_current(event.response_id):
                    assert self._response is not None
                    self._response.words.extend(event.words)
                elif self._held is not None and self._held.id == event.response_id:
                    self._held.words.extend(event.words)
            case PlaybackStarted():
                if self._is_current(event.response_id):
                    assert self._response is not None
                    self._response.audible = True
                    self._emit(AgentSpeaking(event.response_id))
            case OutputPaused():
                self._on_output_paused(event)
            case PlaybackFinished():
                self._on_playback_finished(event)
            case ResponseFailed():
                if self._held is not None and self._held.id == event.response_id:
                    self._held_failures.append(event)  # told only if it is released
                else:
                    self._emit(ErrorEvent(_FAILED[event.stage], event.message))
            case ToolCallsFinished():
                self._history.add_tool_exchange(event.messages)
            case ToolCallsRequested():
                calls = ChatMessage("assistant", "", tool_calls=event.calls)
                self._history.add_tool_exchange((calls,))
                for call in event.calls:
                    self._emit(AgentToolCall(event.response_id, call.id, call.name, call.arguments))
            case ToolResultAdded():
                self._on_tool_result(event)
            case HangupRequested():
                self._on_hangup(event)
            case OutputStopped():
                self._on_output_stopped(event)
            case UserTextAdded():
                self._on_user_text(event)
            case ResponseRequested():
                self._on_response_requested()
            case SayRequested():
                self._on_say(event)
            case CancelRequested():
                self._on_cancel_requested()
            case TruncateRequested():
                self._on_truncate_requested(event)
            case InstructionsChanged():
                self._history.set_instructions(event.instructions)
            case KeyPressed():
                self._on_key(event)
            case PolicyChanged():
                self._policy = event.policy

    # --- the person -----------------------------------------------------------------------

    def _on_speech_started(self, event: SpeechStarted) -> None:
        if self.policy.interrupt_on_speech:
            self._pause_response()  # first: the agent stops before anything else happens
        self._user_speaking = True
        self._drop_held()  # the person goes on: the answer to what they said so far is moot
        self._forget_turn_check()
        self._cancel_timer(Timer.COMMIT)
        self._cancel_timer(Timer.FALSE_INTERRUPTION)
        if self._user is None:
            self._user = UserSpeech()
        self._user.merge_gap_passed = False
        self._decided_without_words = False
        self._emit(UserSpeechStarted(event.onset))

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        if not self._user_speaking or self._user is None:
            return
        self._user_speaking = False
        self._forget_turn_check()
        self._user.finals_due += 1
        self._emit(UserSpeechStopped(event.last_voiced))
        self._start_timer(Timer.TRANSCRIPT, event.at + self.policy.transcript_timeout_ms / 1000)
        if self._response is not None and self._response.paused:
            timeout = self.policy.false_interruption_timeout_ms / 1000
            self._start_timer(Timer.FALSE_INTERRUPTION, event.at + timeout)
        ended = event.at
        if self._decided_voiced is not None:  # ended early: commit as the silence would
            ended = max(ended, self._decided_voiced + self.policy.min_silence_ms / 1000)
            self._decided_voiced = None
        if self.policy.merge_gap_ms == 0 and ended == event.at:
            self._user.merge_gap_passed = True
        else:
            self._start_timer(Timer.COMMIT, ended + self.policy.merge_gap_ms / 1000)
        self._decide()

    def _on_speech_paused(self, event: SpeechPaused) -> None:
        """Silence began: with a turn detector, ask it after a short silence; the plain
        silence policy ends the turn unless the detector has said 'not finished' by then."""
        policy = self.policy
        if not self._user_speaking:
            return
        self._forget_turn_check()
        response = self._response
        if (
            response is not None
            and response.paused
            and policy.paused_decision_silence_ms < policy.vad_silence_ms
        ):
            self._paused_voiced = event.last_voiced
            at = event.last_voiced + policy.paused_decision_silence_ms / 1000
            self._start_timer(Timer.PAUSED_DECISION, at)
        if not policy.uses_turn_detector:
            if policy.preemptive_response and policy.preemptive_silence_ms < policy.min_silence_ms:
                at = event.last_voiced + policy.preemptive_silence_ms / 1000
                self._start_timer(Timer.PREEMPT, at)
            return
        self._start_timer(Timer.TURN_CHECK, event.last_voiced + policy.turn_check_silence_ms / 1000)
        self._start_timer(Timer.SILENCE, event.last_voiced + policy.min_silence_ms / 1000)

    def _forget_turn_check(self) -> None:
        """Speech resumed or ended: the question (and any late answer) no longer counts."""
        self._asked = None
        self._early = False
        self._cancel_timer(Timer.TURN_CHECK)
        self._cancel_timer(Timer.SILENCE)
        self._cancel_timer(Timer.PREEMPT)
        self._cancel_timer(Timer.PAUSED_DECISION)

    def _on_turn_predicted(self, event: TurnPredicted) -> None:
        if event.token != self._asked or not self._user_speaking:
            return  # a question speech has overtaken
        self._asked = None
        if event.complete is None:
            return  # the detector failed: the SILENCE timer ends the turn as without one
        self._cancel_timer(Timer.SILENCE)
        if event.complete:
            self._actions.append(EndSpeech())
        # 'Not finished': the VAD ends the speech after turn_max_silence_ms.

    def _on_transcript(self, event: TranscriptReceived) -> None:
        text = event.text.strip()
        if self._absorb_finals and event.final and event.complete:
            self._absorb_finals -= 1
            if not words_of(text) or is_backchannel(text, self.policy.backchannel_words):
                return  # the backchannel that already resumed the agent, confirmed
        if self._user is None:
            if not text or not event.final:
                return  # partials only count alongside speech the VAD heard
            # STT settled on words the VAD did not hear: speech that has already ended.
            self._user = UserSpeech(merge_gap_passed=True)
            if self.policy.interrupt_on_speech:
                self._pause_response()
        user = self._user
        if event.final:
            if text:
                user.segments.append(text)
                self._emit(UserTranscript(text, final=True))
            user.partial = ""
            if event.complete and user.finals_due:
                user.finals_due -= 1
                self._emit(UserSpeechTranscribed())
                if not user.finals_due:
                    self._cancel_timer(Timer.TRANSCRIPT)
        else:
            user.partial = text
            if text:
                self._emit(UserTranscript(text, final=False))
        self._decide()

    def _on_transcript_failed(self, event: TranscriptFailed) -> None:
        self._emit(ErrorEvent("stt_failed", event.message))
        self._absorb_finals = 0  # a new stream owes nothing
        if self._user is not None:
            self._user.finals_due = 0
            self._cancel_timer(Timer.TRANSCRIPT)
            self._decide()

    def _on_timer(self, event: TimerFired) -> None:
        if self._timers.get(event.timer) != event.token:
            return  # cancelled or re-armed since: a stale firing
        del self._timers[event.timer]
        if event.timer is Timer.KEYPAD:
            self._enter_keys(event.at)
            return
        if event.timer is Timer.TURN_CHECK:
            if self._user_speaking:
                self._questions += 1
                self._asked = self._questions
                self._actions.append(PredictTurn(self._asked))
            return
        if event.timer is Timer.SILENCE:
            if self._user_speaking:
                self._asked = None
                self._actions.append(EndSpeech())
            return
        if event.timer is Timer.PREEMPT:
            self._early = self._user_speaking
            self._decide()
            return
        if event.timer is Timer.PAUSED_DECISION:
            self._decide_while_paused()
            return
        user = self._user
        if user is None:
            return
        if event.timer is Timer.COMMIT:
            user.merge_gap_passed = True
        elif event.timer is Timer.TRANSCRIPT:
            if user.finals_due:
                timeout = self.policy.transcript_timeout_ms / 1000
                self._emit(ErrorEvent("stt_timeout", f"no final transcript within {timeout:g} s"))
            user.finals_due = 0
        elif event.timer is Timer.FALSE_INTERRUPTION:
            response = self._response
            nothing_said = not words_of(user.text(with_partial=True))
            if response and response.paused and nothing_said and not self._user_speaking:
                self._resume_response(response)
                return
        self._decide()

    # --- the decision ---------------------------------------------------------------------

    def _decide_while_paused(self) -> None:
        """The person paused by speech has been quiet for paused_decision_silence_ms: decide
        from the words known now instead of waiting for the turn-ending silence."""
        response, user = self._response, self._user
        if not self._user_speaking or user is None or response is None or not response.paused:
            return
        if response.cancel_when_paused is not None or user.typed:
            return
        self._forget_turn_check()
        self._actions.append(EndSpeech())
        text = user.text(with_partial=True)
        lexicon = self.policy.backchannel_words
        if not response.position_due and words_of(text) and is_backchannel(text, lexicon):
            # The words so far are a backchannel: go on now. The speech is over for the
            # machine; the VAD's own end is ignored, and the final is checked on arrival.
            self._user_speaking = False
            self._emit(UserSpeechStopped(self._paused_voiced))
            self._absorb_finals += user.finals_due + 1
            self._resume_response(response)
            return
        # Words not known yet (a whole-utterance STT) or not yet decisive: end the speech
        # here so the final transcript comes now; _decide takes it from there, and so does a
        # partial that comes first.
        self._decided_voiced = self._paused_voiced
        self._decided_without_words = True

    def _late_backchannel(self, user: UserSpeech, text: str) -> bool:
        """Whether the speech the paused decision ended is a backchannel by a partial that
        came after the decision: go on now, not after the final (which is still checked)."""
        return (
            self._decided_without_words
            and not self._user_speaking
            and bool(user.partial)
            and not user.typed
            and is_backchannel(text, self.policy.backchannel_words)
        )

    def _decide(self) -> None:
        """Apply the turn-taking rules to what is known now."""
        user = self._user
        if user is None:
            return
        settled = not self._user_speaking and user.finals_due == 0
        response = self._response
        if response is not None and response.paused:
            if response.position_due:
                return  # decide once the output has said how much was heard
            text = user.text(with_partial=True)
            lexicon = self.policy.backchannel_words
            ignorable = not words_of(text) or is_backchannel(text, lexicon)
            if settled and ignorable and not user.typed:
                self._resume_response(response)
                return
            if self._late_backchannel(user, text):
                self._absorb_finals += user.finals_due  # checked as they come
                self._resume_response(response)
                return
            if settled or user.typed or not could_be_backchannel(text, lexicon):
                self._interrupt_response(response)
            else:
                return  # wait: it may still be a backchannel
        if self._response is not None:
            return
        if not settled or not user.merge_gap_passed:
            if not self._user_speaking or self._early:  # the turn is likely over
                self._maybe_preempt(user, user.text(with_partial=True))
            return
        text = user.text(with_partial=False) or user.partial
        self._user = None
        self._cancel_timer(Timer.TRANSCRIPT)
        if not text:
            self._drop_held()
            return
        self._history.add_user_turn(text)
        if not (self.policy.auto_respond or self._respond_when_committed):
            self._drop_held()
            return
        held = self._held
        if held is not None and self._held_messages == self._history.messages:
            self._release(held, text)
        else:
            self._drop_held()
            self._start_response(text)

    def _maybe_preempt(self, user: UserSpeech, text: str) -> None:
        """The turn is likely over: start its answer from the words so far (partials
        included), held, unless one was started with these very words. Typed words commit
        at once: nothing to gain."""
        policy = self.policy
        if not (policy.preemptive_response and policy.auto_respond) or user.typed:
            return
        if not text:
            self._drop_held()
            return
        preview = History(self._history.messages)
        preview.add_user_turn(text)
        if self._held is not None and self._held_messages == preview.messages:
            return
        self._drop_held()
        self._responses_started += 1
        self._held = Response(id=f"resp_{self._responses_started}")
        self._held_messages = preview.messages
        self._actions.append(StartResponse(self._held.id, preview.messages, text, held=True))

    def _release(self, held: Response, user_text: str) -> None:
        """The held answer was given exactly this turn: it becomes the response."""
        self._respond_when_committed = False
        self._held, self._response = None, held
        self._actions.append(ReleaseResponse(held.id, user_text))
        self._emit(AgentResponseStarted(held.id))
        failures, self._held_failures = self._held_failures, []
        for failed in failures:
            self._emit(ErrorEvent(_FAILED[failed.stage], failed.message))

    def _drop_held(self) -> None:
        held, self._held = self._held, None
        self._held_failures = []
        if held is not None:
            self._actions.append(DropResponse(held.id))

    def _start_response(self, user_text: str, script: str | None = None) -> None:
        """Answer the history as it stands (its last message is usually the person's), or
        speak `script` as it is."""
        self._respond_when_committed = False
        self._responses_started += 1
        response = Response(id=f"resp_{self._responses_started}")
        self._response = response
        messages = self._history.messages
        self._actions.append(StartResponse(response.id, messages, user_text, script=script))
        self._emit(AgentResponseStarted(response.id))

    def _pause_response(self) -> None:
        response = self._response
        if response is None or response.paused:
            return
        response.paused = True
        response.position_due = True  # the runtime answers PauseOutput with OutputPaused
        self._actions.append(PauseOutput(response.id))
        self._emit(AgentPaused(response.id))

    def _on_output_paused(self, event: OutputPaused) -> None:
        response = self._response
        if response is None or response.id != event.response_id:
            return
        response.played, response.position_due = event.played, False
        if response.cancel_when_paused is not None:
            self._cancel_response(response, response.cancel_when_paused)
        self._decide()

    def _resume_response(self, response: Response) -> None:
        response.paused = False
        self._user = None
        self._decided_without_words = False
        for timer in (Timer.FALSE_INTERRUPTION, Timer.TRANSCRIPT, Timer.COMMIT):
            self._cancel_timer(timer)
        self._actions.append(ResumeOutput(response.id))
        self._emit(AgentResumed(response.id))

    def _interrupt_response(self, response: Response) -> None:
        self._cancel_response(response, "interrupted")

    def _cancel_response(self, response: Response, reason: CancelReason) -> None:
        if response.position_due:  # wait to learn how much was heard
            response.cancel_when_paused = reason
            return
        self._cancel_timer(Timer.FALSE_INTERRUPTION)
        self._actions.append(CancelResponse(response.id, reason, response.played))
        self._finish_response(response, response.played, reason)

    def _finish_response(
        self,
        response: Response,
        played: float,
        status: Literal["completed", "interrupted", "cancelled"] = "interrupted",
    ) -> None:
        """Record what was heard of the response and forget it. `played` is inf when all
        of it was played; anything less means it was cut short."""
        self._decided_without_words = False
        text = join_words(heard_words(response.words, played))
        if played == float("inf"):
            status = "completed"
        index = self._history.add_agent_speech(text, interrupted=status != "completed")
        self._spoken = [*self._spoken[-7:], SpokenResponse(response.id, response.words, index)]
        self._response = None
        self._emit(AgentResponseDone(response.id, text, status))
        if self._say_next is not None and self._ending is None:
            script, self._say_next = self._say_next, None
            self._start_response("", script)

    # --- the agent's output ---------------------------------------------------------------

    def _on_playback_finished(self, event: PlaybackFinished) -> None:
        response = self._response
        if response is None or response.id != event.response_id:
            return
        # Everything generated was played: all words were heard.
        self._finish_response(response, float("inf"), "completed")
        self._decide()

    # --- requests from the client (typed text, API calls) -----------------------------------

    def _on_user_text(self, event: UserTextAdded) -> None:
        text = event.text.strip()
        if not text:
            return
        if not event.respond:
            self._history.add_user_turn(text)
            return
        # Typed words are settled real words: they interrupt like speech that ended.
        self._user = self._user or UserSpeech()
        self._user.segments.append(text)
        self._user.merge_gap_passed = self._user.typed = True
        self._respond_when_committed = True
        response = self._response
        if response is not None and not response.paused:
            self._pause_response()
        self._decide()

    def _on_response_requested(self) -> None:
        if self._response is not None:
            message = "a response is already in progress; cancel it first"
            self._emit(ErrorEvent("conversation_already_has_active_response", message))
        elif self._user is not None:
            self._respond_when_committed = True  # answer once the person's turn is in
        else:
            last = next((m.content for m in reversed(self.history) if m.role == "user"), "")
            self._start_response(last)

    def _on_say(self, event: SayRequested) -> None:
        text = event.text.strip()
        if not text or self._ending is not None:
            return
        response = self._response
        if response is None:
            self._start_response("", text)
            return
        self._say_next = text  # spoken once the response in flight is cancelled
        self._pause_response()
        self._cancel_response(response, "cancelled")

    def _on_cancel_requested(self) -> None:
        response = self._response
        if response is None:
            self._emit(ErrorEvent("response_cancel_not_active", "no response is in progress"))
            return
        self._pause_response()
        self._cancel_response(response, "cancelled")

    def _on_truncate_requested(self, event: TruncateRequested) -> None:
        response = self._response
        if response is not None and response.id == event.response_id:
            response.played, response.position_due = event.played, False  # the client's word
            self._cancel_response(response, "interrupted")
            return
        spoken = next((r for r in self._spoken if r.id == event.response_id), None)
        if spoken is None or spoken.history_index is None:
            return  # nothing of it is in the history: nothing to cut
        text = join_words(heard_words(spoken.words, event.played))
        self._history.cut_agent_speech(spoken.history_index, text)
        if not text:  # its message is gone: later indexes moved up by one
            for other in self._spoken:
                if other.history_index is not None and other.history_index > spoken.history_index:
                    other.history_index -= 1
            spoken.history_index = None

    def _on_tool_result(self, event: ToolResultAdded) -> None:
        """The result goes right after its call (a response may have been heard since);
        what moved down keeps its index for truncation."""
        index = self._history.add_tool_result(event.call_id, event.output)
        for spoken in self._spoken:
            if spoken.history_index is not None and spoken.history_index >= index:
                spoken.history_index += 1

    def _on_key(self, event: KeyPressed) -> None:
        self._emit(UserDtmf(event.key))
        policy = self.policy
        if not policy.keypad_turns:
            return
        if not self._keys and policy.auto_respond and policy.interrupt_on_speech:
            self._pause_response()  # a key is deliberate: the agent stops at the first
        self._keys += event.key
        if event.key in policy.keypad_end_keys:
            self._cancel_timer(Timer.KEYPAD)
            self._enter_keys(event.at)
        else:
            self._start_timer(Timer.KEYPAD, event.at + policy.keypad_timeout_ms / 1000)

    def _enter_keys(self, at: float) -> None:
        """The keypad entry is complete: it joins the turn like typed words."""
        keys, self._keys = self._keys, ""
        if keys:
            self._on_user_text(UserTextAdded(at, f"[keypad: {keys}]", self.policy.auto_respond))

    # --- the end --------------------------------------------------------------------------

    def _on_hangup(self, event: HangupRequested) -> None:
        self._ending = event.reason
        self._drop_held()
        for timer in list(self._timers):
            self._cancel_timer(timer)
        if self._response is not None:
            self._actions.append(StopOutput(self._response.id))
        else:
            self._actions.append(EndSession(event.reason))

    def _on_output_stopped(self, event: OutputStopped) -> None:
        response = self._response
        if response is not None and response.id == event.response_id:
            self._actions.append(CancelResponse(response.id, "hangup", event.played))
            self._finish_response(response, event.played)
        if self._ending is not None:
            self._actions.append(EndSession(self._ending))

    # --- helpers --------------------------------------------------------------------------

    def _is_current(self, response_id: str) -> bool:
        return self._response is not None and self._response.id == response_id

    def _emit(self, event: SessionEvent) -> None:
        self._actions.append(Emit(event))

    def _start_timer(self, timer: Timer, deadline: float) -> None:
        self._timer_serial += 1
        self._timers[timer] = self._timer_serial
        self._actions.append(StartTimer(timer, self._timer_serial, deadline))

    def _cancel_timer(self, timer: Timer) -> None:
        if self._timers.pop(timer, None) is not None:
            self._actions.append(CancelTimer(timer))
