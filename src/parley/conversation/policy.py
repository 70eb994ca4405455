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
            self.min_silence_ms,
            self.prefix_padding_ms,
        )

    @property
    def vad_release_threshold(self) -> float:
        """The lower threshold that keeps speech going once it has started."""
        return max(0.0, self.vad_threshold - 0.15)
