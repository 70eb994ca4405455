"""Settings for the server and its providers, from flags, environment and a settings file.

Precedence, highest first: values passed in code (CLI flags), environment variables
(`PARLEY_...`, nested with `__`: `PARLEY_SESSION__POLICY__MIN_SILENCE_MS=700`), the settings
file (TOML: `--settings FILE`, `PARLEY_SETTINGS_FILE`, or `parley.toml` in the working
directory), then the defaults below. Secrets are `SecretStr`: they never print.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from parley.cluster.settings import ClusterSettings
from parley.providers.cloud.config import (
    DeepgramSettings,
    ElevenLabsSettings,
    OpenAIChatSettings,
    OpenAIRealtimeSettings,
    OpenAISpeechSettings,
    OpenAITranscribeSettings,
)
from parley.providers.context import ProviderContext
from parley.providers.local.config import (
    LlamaSettings,
    PiperSettings,
    SmartTurnSettings,
    WhisperSettings,
)
from parley.records.settings import RecordsSettings
from parley.session.config import SessionConfig
from parley.session.tools.settings import ToolSettings
from parley.testing.fakes.config import FakeProviderSettings
from parley.transports.browser.settings import BrowserSettings
from parley.transports.realtime.settings import RealtimeEndpointSettings
from parley.transports.twilio.settings import TwilioSettings

_settings_file: ContextVar[Path | None] = ContextVar("parley_settings_file", default=None)


class HttpSettings(BaseModel):
    """Limits on every HTTP connection, against slow and oversized clients (docs/deploy.md)."""

    model_config = ConfigDict(extra="forbid")

    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A request's headers must arrive within this, counted from the connection "
        "or the previous response; then 408 and the connection is closed (slowloris).",
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=300, description="The Twilio webhook's body must arrive within this."
    )
    max_body_bytes: int = Field(
        65_536,
        ge=1024,
        description="Largest webhook body (Twilio's are about 1 KB); larger ones get 413.",
    )
    keep_alive_s: float = Field(
        5.0, gt=0, le=300, description="An idle keep-alive connection is closed after this."
    )
    max_connections: int | None = Field(
        1000,
        ge=1,
        description="Past this many connections (calls included) new requests get 503; keep it "
        "under the process's open-file limit (`ulimit -n`). None: no limit.",
    )
    websocket_compression: bool = Field(
        False,
        description="Accept permessage-deflate on the websockets. Off: call audio (base64 "
        "mu-law, PCM) barely compresses, and each compressed socket costs deflate CPU on "
        "every frame and its own zlib state (docs/deploy.md).",
    )


class AdmissionSettings(BaseModel):
    """When a node (each worker of it) refuses new calls, so the calls it has keep their
    timing and a load balancer sends the rest elsewhere (docs/deploy.md)."""

    model_config = ConfigDict(extra="forbid")

    max_sessions: int | None = Field(
        None,
        ge=1,
        description="Live calls per worker past which new ones are refused (busy); set it "
        "from `parley bench` capacity. None: no limit.",
    )
    max_loop_lag_s: float | None = Field(
        0.1,
        gt=0,
        description="New calls are refused once the event loop's lag has stayed past this for "
        "half a second (every 0.1 s sample: overload, not one slow step), until it has stayed "
        "within it for half a second. None: not checked.",
    )
    webhook_hold_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="A call admitted at the Twilio webhook holds its place for this long, "
        "until its media stream starts, so a burst of calls is refused at the webhook (a busy "
        "signal) rather than at the stream.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8000, ge=1, le=65535)
    workers: int | None = Field(
        None,
        ge=1,
        description="Session processes of `parley serve` on one port, sharing one model "
        "process (docs/deploy.md). None: one per CPU core; 1: a single process.",
    )
    admission: AdmissionSettings = Field(default_factory=AdmissionSettings)
    vad: str = Field("silero", description="VAD provider by name (`parley providers` lists).")
    stt: str = Field("whisper", description="STT provider by name.")
    llm: str = Field("llama", description="LLM provider by name.")
    tts: str = Field("piper", description="TTS provider by name.")
    session: SessionConfig = Field(default_factory=SessionConfig)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text`: one line per record. `json`: one object per line, each value a "
        "client sent in its own field (for log collectors).",
    )
    http: HttpSettings = Field(default_factory=HttpSettings)
    memory_trim_interval_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="While calls come and go, give freed heap memory back to the OS this "
        "often (glibc `malloc_trim`; server/memory.py says why). 0: never.",
    )
    gc_collect_interval_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Within this many seconds of calls ending, free them with a full garbage "
        "collection (an ended session is a reference cycle; server/collector.py says why). "
        "0: leave it to Python's own schedule.",
    )
    access_token: SecretStr | None = Field(
        None, description="When set, clients must present it to open a session."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to open sessions; empty allows same-origin only.",
    )
    fake: FakeProviderSettings = Field(default_factory=FakeProviderSettings)
    deepgram: DeepgramSettings = Field(default_factory=DeepgramSettings)
    openai: OpenAIChatSettings = Field(default_factory=OpenAIChatSettings)
    elevenlabs: ElevenLabsSettings = Field(default_factory=ElevenLabsSettings)
    openai_realtime: OpenAIRealtimeSettings = Field(default_factory=OpenAIRealtimeSettings)
    openai_transcribe: OpenAITranscribeSettings = Field(default_factory=OpenAITranscribeSettings)
    openai_speech: OpenAISpeechSettings = Field(default_factory=OpenAISpeechSettings)
    whisper: WhisperSettings = Field(default_factory=WhisperSettings)
    llama: LlamaSettings = Field(default_factory=LlamaSettings)
    piper: PiperSettings = Field(default_factory=PiperSettings)
    smart_turn: SmartTurnSettings = Field(default_factory=SmartTurnSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    browser: BrowserSettings = Field(default_factory=BrowserSettings)
    realtime: RealtimeEndpointSettings = Field(default_factory=RealtimeEndpointSettings)
    records: RecordsSettings = Field(default_factory=RecordsSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    @property
    def provider_context(self) -> ProviderContext:
        """What provider factories need besides their own section (providers/registry.py)."""
        return ProviderContext(instructions=self.session.instructions)

    @model_validator(mode="after")
    def _hangup_fits_the_close(self) -> Settings:
        """The REST hangup runs inside the session's close: a longer one would be cut off."""
        if self.twilio.rest_timeout_s >= self.session.close_deadline_s:
            raise ValueError(
                f"twilio.rest_timeout_s ({self.twilio.rest_timeout_s:g} s) must be under "
                f"session.close_deadline_s ({self.session.close_deadline_s:g} s)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = settings_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def settings_file() -> Path | None:
    """The settings file in force: the one given, $PARLEY_SETTINGS_FILE, or ./parley.toml."""
    given = _settings_file.get() or os.environ.get("PARLEY_SETTINGS_FILE")
    if given:
        path = Path(given)
        if not path.is_file():
            raise FileNotFoundError(f"settings file not found: {path}")
        return path
    default = Path("parley.toml")
    return default if default.is_file() else None


def load_settings(file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from every source; `overrides` (CLI flags) win over all of them."""
    token = _settings_file.set(file)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _settings_file.reset(token)
