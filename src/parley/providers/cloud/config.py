"""Settings of the cloud providers: one section each, in `Settings` (parley.settings).

Every section has a base URL (so tests and self-hosted servers can stand in), a key and a
model. Keys are `SecretStr`: they never print. When a key is not set as a parley setting
(`PARLEY_DEEPGRAM__API_KEY`, the settings file), the provider's conventional variable is
read instead (`DEEPGRAM_API_KEY`, `OPENAI_API_KEY`, `ELEVENLABS_API_KEY`), but only while the
section's `base_url` is that provider's own host: a key meant for OpenAI is never sent to
Groq, Ollama or a self-hosted server that a base_url names (set `api_key` for those).
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _KeyedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The conventional environment variable read when `api_key` is not set, and the host it
    # is meant for: the variable is read only while `base_url` points there.
    key_variable: ClassVar[str] = ""
    key_host: ClassVar[str] = ""
    base_url: str
    api_key: SecretStr | None = Field(None, description="The provider's API key.")

    @property
    def key_from(self) -> str | None:
        """Where the key came from: the conventional variable's name, "settings", or None."""
        if self.api_key is None:
            return None
        from_env = os.environ.get(self.key_variable) == self.api_key.get_secret_value()
        return self.key_variable if from_env else "settings"

    @model_validator(mode="after")
    def _key_from_environment(self) -> Self:
        if self.api_key is not None and not self.api_key.get_secret_value():
            self.api_key = None
        own_host = (urlsplit(self.base_url).hostname or "") == self.key_host
        if self.api_key is None and own_host and os.environ.get(self.key_variable):
            self.api_key = SecretStr(os.environ[self.key_variable])
        return self


class DeepgramSettings(_KeyedSettings):
    """Deepgram live speech-to-text (stt = "deepgram")."""

    key_variable: ClassVar[str] = "DEEPGRAM_API_KEY"
    key_host: ClassVar[str] = "api.deepgram.com"
    base_url: str = Field(
        "wss://api.deepgram.com/v1/listen", description="The live transcription endpoint."
    )
    model: str = "nova-3"
    language: str = "en"
    endpointing_ms: int | None = Field(
        300, ge=10, description="Deepgram's own end-of-speech silence (None: off)."
    )
    utterance_end_ms: int | None = Field(
        1000, ge=1000, description="Silence after which Deepgram sends UtteranceEnd (None: off)."
    )
    smart_format: bool = True
    keepalive_s: float = Field(
        4.0, gt=0, lt=10, description="Send KeepAlive after this long without audio (server: 10 s)."
    )
    finalize_timeout_ms: int = Field(
        1200,
        ge=50,
        description="After Finalize, how long to wait for its results before calling the "
        "turn's transcript complete with what came (Deepgram may send nothing for no audio).",
    )
    connect_timeout_s: float = Field(5.0, gt=0)
    reconnect_attempts: int = Field(
        5, ge=0, description="Reconnections tried in a row before the stream fails."
    )
    replay_limit_s: float = Field(
        30.0, gt=0, description="Most unacknowledged audio kept to replay after a drop."
    )
    send_backlog_s: float = Field(
        10.0,
        gt=0,
        description="Audio waiting to be sent on one socket past which the server counts as "
        "no longer reading it: the socket is dropped and a new one replays the unacknowledged "
        "audio (a stuck socket must not queue a call's audio without bound).",
    )


class OpenAIChatSettings(_KeyedSettings):
    """Any OpenAI-compatible chat completions server (llm = "openai"): OpenAI, Groq,
    Ollama, vLLM, llama.cpp server."""

    key_variable: ClassVar[str] = "OPENAI_API_KEY"
    key_host: ClassVar[str] = "api.openai.com"
    base_url: str = Field(
        "https://api.openai.com/v1",
        description="e.g. https://api.groq.com/openai/v1, http://localhost:11434/v1 (Ollama), "
        "http://localhost:8000/v1 (vLLM), http://127.0.0.1:8080/v1 (llama.cpp server).",
    )
    model: str = "gpt-4o-mini"
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, description="Longest reply, in tokens.")
    token_limit_field: Literal["auto", "max_tokens", "max_completion_tokens"] = Field(
        "auto",
        description="The request field that carries max_tokens. auto: max_completion_tokens "
        "for OpenAI's own API (newer models refuse max_tokens), max_tokens elsewhere; a 400 "
        "naming the field sent switches to the other one (remembered per server and model).",
    )
    stream_usage: bool = Field(
        True,
        description="Ask for token counts at the end of the stream (stream_options."
        "include_usage); turn off for a server that refuses the field.",
    )
    retries: int = Field(2, ge=0, le=10, description="Retries before the first token only.")
    retry_backoff_s: float = Field(0.25, ge=0, description="First retry delay; doubles each time.")
    connect_timeout_s: float = Field(5.0, gt=0)
    first_token_timeout_s: float = Field(
        10.0, gt=0, description="A stream with no token by then counts as stalled (retried)."
    )
    read_timeout_s: float = Field(
        10.0, gt=0, description="Longest silence between two chunks once tokens flow."
    )


class ElevenLabsSettings(_KeyedSettings):
    """ElevenLabs text-to-speech over the multi-context websocket (tts = "elevenlabs")."""

    key_variable: ClassVar[str] = "ELEVENLABS_API_KEY"
    key_host: ClassVar[str] = "api.elevenlabs.io"
    base_url: str = Field("wss://api.elevenlabs.io/v1", description="The websocket API root.")
    voice_id: str = Field("21m00Tcm4TlvDq8ikWAM", description="The voice to speak with.")
    model: str = "eleven_flash_v2_5"
    output_format: str | None = Field(
        None,
        description="None matches the transport: ulaw_8000 for phones (8 kHz), else the "
        "PCM rate closest to the output rate (pcm_16000, pcm_22050, pcm_24000, pcm_44100).",
    )
    stability: float | None = Field(None, ge=0, le=1)
    similarity_boost: float | None = Field(None, ge=0, le=1)
    speed: float | None = Field(None, ge=0.7, le=1.2)
    inactivity_timeout_s: int = Field(
        180, ge=5, le=180, description="How long ElevenLabs keeps an idle socket open."
    )
    keepalive_s: float = Field(
        10.0,
        gt=0,
        description="After this long without sending, keep the socket (and each open "
        "context) alive with an empty text message; must be under inactivity_timeout_s.",
    )
    connect_timeout_s: float = Field(5.0, gt=0)
    first_audio_timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for a context's first audio, and between chunks."
    )

    @model_validator(mode="after")
    def _keepalive_before_timeout(self) -> Self:
        if self.keepalive_s >= self.inactivity_timeout_s:
            raise ValueError("keepalive_s must be shorter than inactivity_timeout_s")
        return self


class OpenAIRealtimeSettings(_KeyedSettings):
    """OpenAI Realtime as a speech-to-speech provider (vad, stt, llm and tts all =
    "openai-realtime"; vad may instead be a local VAD)."""

    key_variable: ClassVar[str] = "OPENAI_API_KEY"
    key_host: ClassVar[str] = "api.openai.com"
    base_url: str = Field("wss://api.openai.com/v1/realtime", description="The realtime endpoint.")
    model: str = "gpt-realtime"
    voice: str = "marin"
    transcription_model: str = Field(
        "gpt-4o-mini-transcribe", description="Transcribes the person's audio (input transcripts)."
    )
    output_format: Literal["auto", "pcm", "pcmu"] = Field(
        "auto", description="auto: audio/pcmu for 8 kHz (phone) transports, else audio/pcm 24 kHz."
    )
    connect_timeout_s: float = Field(5.0, gt=0)
    response_timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for a response's next event (else: stalled)."
    )
    reconnect_attempts: int = Field(3, ge=0)
    send_backlog_s: float = Field(
        10.0,
        gt=0,
        description="Input audio waiting to be sent past which the server counts as no longer "
        "reading it: the connection fails and the session's next one reconnects.",
    )


class _SpeechServerSettings(_KeyedSettings):
    """A section for an OpenAI-compatible speech server, often self-hosted and keyless.

    OPENAI_API_KEY is read only for OpenAI's own API: a key meant for OpenAI must never be
    sent to another server (set `api_key` for a server that takes its own key)."""

    key_variable: ClassVar[str] = "OPENAI_API_KEY"
    key_host: ClassVar[str] = "api.openai.com"
    base_url: str = "https://api.openai.com/v1"


class OpenAITranscribeSettings(_SpeechServerSettings):
    """Whole-utterance STT over any OpenAI-compatible `POST /audio/transcriptions` (stt =
    "openai-transcribe"): OpenAI, speaches / faster-whisper-server, vLLM serving Whisper."""

    base_url: str = Field(
        "https://api.openai.com/v1",
        description="e.g. http://localhost:8000/v1 (speaches, faster-whisper-server, vLLM).",
    )
    model: str = Field(
        "gpt-4o-mini-transcribe",
        description="e.g. whisper-1, Systran/faster-whisper-small, openai/whisper-large-v3.",
    )
    language: str | None = Field("en", description="ISO-639-1 code; None: the server detects.")
    response_format: Literal["json", "verbose_json"] = "json"
    stream: bool = Field(
        False,
        description="Ask for the transcript as server-sent events (transcript.text.delta/done). "
        "A server that does not stream answers with JSON, which is read as well.",
    )
    connect_timeout_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for one utterance's transcript (else: stalled)."
    )
    retries: int = Field(1, ge=0, le=10, description="Retries after a 429/5xx, stall or drop.")
    retry_backoff_s: float = Field(0.25, ge=0, description="First retry delay; doubles each time.")
    speculation_ms: int | None = Field(
        150,
        ge=0,
        description="Quiet after which the utterance so far is sent speculatively, hiding the "
        "server's latency in the turn-ending silence (None: never; costs extra requests).",
    )


class OpenAISpeechSettings(_SpeechServerSettings):
    """TTS over any OpenAI-compatible `POST /audio/speech` (tts = "openai-speech"): OpenAI,
    Kokoro-FastAPI, speaches. The audio is read as the server sends it."""

    base_url: str = Field(
        "https://api.openai.com/v1",
        description="e.g. http://localhost:8880/v1 (Kokoro-FastAPI), http://localhost:8000/v1.",
    )
    model: str = Field("gpt-4o-mini-tts", description="e.g. tts-1, kokoro.")
    voice: str = Field("alloy", description="e.g. alloy, marin; af_heart for Kokoro.")
    response_format: Literal["pcm", "wav"] = Field(
        "pcm",
        description="pcm: raw 16-bit mono at `sample_rate`; wav: the rate is read from the header.",
    )
    sample_rate: int = Field(
        24000, ge=8000, le=48000, description="The rate of `pcm` audio (OpenAI, Kokoro: 24000)."
    )
    speed: float | None = Field(None, ge=0.25, le=4.0)
    instructions: str | None = Field(None, description="Voice instructions (gpt-4o-mini-tts).")
    connect_timeout_s: float = Field(5.0, gt=0)
    first_audio_timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for a segment's first audio (else: stalled)."
    )
    read_timeout_s: float = Field(
        10.0, gt=0, description="Longest silence between two pieces of audio once it flows."
    )
    retries: int = Field(1, ge=0, le=10, description="Retries before a segment's first audio.")
    retry_backoff_s: float = Field(0.25, ge=0, description="First retry delay; doubles each time.")
