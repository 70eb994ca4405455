"""Turn-taking policy: every knob that decides when someone's turn starts or ends.

Invariant 6: these are the only turn-taking constants in parley. The VAD gate, the
conversation state machine and the runtime read them from here and nowhere else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_BACKCHANNELS: frozenset[str] = frozenset(
    {
        "uh-huh", "uh huh", "uhuh", "mhm", "mm-hmm", "mm hmm", "mmhmm", "mm", "hmm", "hm",
        "yeah", "yea", "yep", "yup", "yes", "ok", "okay", "right", "sure", "alright",
        "all right", "i see", "got it", "go on", "go ahead", "oh", "ah", "uh", "um", "wow",
        "cool", "nice", "great", "true", "exactly", "indeed", "of course", "really",
    }
)  # fmt: skip


class TurnTakingPolicy(BaseModel):
    """Named, documented turn-taking settings (see docs/turn-taking.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vad_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Speech probability at or above which a VAD frame counts as voiced. "
        "Once speech has started, frames stay voiced down to threshold - 0.15 (hysteresis), "
        "so a soft syllable does not split a sentence.",
    )
    prefix_padding_ms: int = Field(
        300,
        ge=0,
        le=2000,
        description="Audio kept from before the detected speech onset and given to STT "
        "providers that transcribe whole utterances, so first syllables are not clipped.",
    )
    min_silence_ms: int = Field(
        500,
        ge=20,
        le=10_000,
        description="Silence after speech that ends the person's turn (the VAD stop decision).",
    )
    merge_gap_ms: int = Field(
        200,
        ge=0,
        le=10_000,
        description="After the turn-ending silence, how much longer the conversation waits "
        "before answering. Speech that starts within it, and transcript segments that arrive "
        "within it, join the same turn: rapid segments give one LLM call with the merged text.",
    )
    min_interruption_ms: int = Field(
        80,
        ge=0,
        le=5000,
        description="Voiced audio needed before the VAD declares that speech started. Since "
        "speech start is what pauses a talking agent, shorter sounds (a click, a cough) "
        "neither interrupt the agent nor open a turn.",
    )
    false_interruption_timeout_ms: int = Field(
        2000,
        ge=0,
        le=30_000,
        description="When speech paused the agent and then ended, how long to wait for any "
        "word from STT. If none comes, it was noise: playback resumes where it paused.",
    )
    transcript_timeout_ms: int = Field(
        3000,
        ge=100,
        le=60_000,
        description="Longest wait for the final transcript after speech ended. Past it the "
        "turn goes on with whatever text arrived, and an error event reports the slow STT.",
    )
    auto_respond: bool = Field(
        True,
        description="Answer each turn when it ends. Off, a turn only joins the history until "
        "a response is asked for (manual turns; the Realtime API's create_response).",
    )
    interrupt_on_speech: bool = Field(
        True,
        description="Speech over the agent pauses it (and may interrupt it). Off, the agent "
        "speaks on and the person's turn is answered after (interrupt_response).",
    )
    keypad_turns: bool = Field(
        True,
        description="Keys pressed on a phone keypad (DTMF) join the person's turn as text, "
        "'[keypad: 42#]'. The first key pauses a talking agent; the keys are answered when an "
        "end key is pressed or keypad_timeout_ms after the last key. Off, keys only reach "
        "observers as UserDtmf events.",
    )
    keypad_end_keys: str = Field(
        "#",
        pattern=r"^[0-9*#A-D]*$",
        description="Keys that complete a keypad entry at once (kept in the text).",
    )
    keypad_timeout_ms: int = Field(
        2000,
        ge=100,
        le=30_000,
        description="Without an end key, how long after the last key the entry is complete.",
    )
    turn_detector: str = Field(
        "none",
        pattern=r"^[a-z0-9-]+$",
        description="A turn detector by name (providers/registry.py) that judges from the "
        "person's audio whether their turn is complete when their silence begins; 'none' "
        "ends turns by silence alone (min_silence_ms). Without the named detector loaded, or "
        "when it fails or is slow, turns end by silence as if it were 'none'.",
    )
    turn_detector_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="The detector's probability of 'complete' at or above which the turn "
        "ends at once.",
    )
    turn_check_silence_ms: int = Field(
        200,
        ge=20,
        le=10_000,
        description="With a turn detector: the silence after which it is asked whether the "
        "turn is complete. 'Complete' ends the turn then, without waiting for min_silence_ms.",
    )
    turn_max_silence_ms: int = Field(
        2000,
        ge=20,
        le=30_000,
        description="With a turn detector that said 'not finished': the silence that ends "
        "the turn anyway.",
    )
    preemptive_response: bool = Field(
        False,
        description="Start generating the answer (LLM and first TTS) as soon as the turn is "
        "likely over and its words are in, before the merge gap ends. Its audio is held, "
        "unheard and unannounced, until the turn is confirmed; if the person goes on or the "
        "words changed, it is dropped without a trace.",
    )
    preemptive_silence_ms: int = Field(
        300,
        ge=20,
        le=10_000,
        description="Without a turn detector: the silence at which a preemptive answer starts "
        "from the words heard so far, before min_silence_ms ends the turn. With one, its "
        "'complete' is the moment.",
    )
    paused_decision_silence_ms: int = Field(
        150,
        ge=20,
        le=10_000,
        description="While speech has paused the agent: the silence after which the words "
        "so far decide, without waiting for the turn-ending silence. Words already a "
        "backchannel (a partial transcript) resume playback then; otherwise the speech ends "
        "there so the STT gives its final words at once (a backchannel resumes, anything else "
        "interrupts, and a turn that interrupts still ends no sooner than min_silence_ms). "
        "At or above the VAD's own silence it changes nothing.",
    )
    backchannel_words: frozenset[str] = Field(
        DEFAULT_BACKCHANNELS,
        description="Words and phrases that, alone, mean 'go on': said while the agent "
        "speaks, they resume playback instead of interrupting. Matched case-insensitively, "
        "ignoring punctuation; an utterance must consist only of these to count.",
    )

    @property
    def vad_settings(self) -> tuple[float, int, int, int]:
        """What a VAD stream is built with (the speech gate, and a server VAD's prefix):
        when these change, the VAD must start afresh."""
        return (
            self.vad_threshold,
            self.min_interruption_ms,
            self.vad_silence_ms,
            self.prefix_padding_ms,
        )

    @property
    def uses_turn_detector(self) -> bool:
        return self.turn_detector != "none"

    @property
    def vad_silence_ms(self) -> int:
        """The silence after which the VAD itself ends speech: min_silence_ms, or with a turn
        detector the longest silence (the conversation ends turns sooner when it may)."""
        if self.uses_turn_detector:
            return max(self.turn_max_silence_ms, self.min_silence_ms)
        return self.min_silence_ms

    @property
    def vad_release_threshold(self) -> float:
        """The lower threshold that keeps speech going once it has started."""
        return max(0.0, self.vad_threshold - 0.15)
