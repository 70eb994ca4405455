"""Cloud providers by name, their settings sections, and keys from the usual variables."""

from __future__ import annotations

import pytest

from parley.providers import registry
from parley.settings import Settings


def test_every_cloud_provider_is_built_by_name_without_connecting() -> None:
    settings = Settings.model_validate({})
    names = {
        "vad": ["openai-realtime"],
        "stt": ["deepgram", "openai-realtime", "openai-transcribe"],
        "llm": ["openai", "openai-realtime"],
        "tts": ["elevenlabs", "openai-realtime", "openai-speech"],
    }
    for kind, chosen in names.items():
        for name in chosen:
            provider = registry.create(kind, name, settings)  # type: ignore[arg-type]
            assert provider.name == name


def test_keys_come_from_parley_settings_first_then_the_usual_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-from-environment")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.setenv("PARLEY_OPENAI__API_KEY", "sk-from-parley")
    settings = Settings()
    assert settings.deepgram.api_key is not None
    assert settings.deepgram.api_key.get_secret_value() == "dg-from-environment"
    assert settings.deepgram.key_from == "DEEPGRAM_API_KEY"
    assert settings.openai.api_key is not None
    assert settings.openai.api_key.get_secret_value() == "sk-from-parley"
    assert settings.openai.key_from == "settings"
    realtime_key = settings.openai_realtime.api_key
    assert realtime_key is not None and realtime_key.get_secret_value() == "sk-from-environment"
    assert settings.elevenlabs.api_key is None and settings.elevenlabs.key_from is None
    shown = repr(settings) + str(settings.model_dump())
    assert "from-environment" not in shown and "from-parley" not in shown


def test_provider_settings_come_from_nested_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_OPENAI__BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("PARLEY_OPENAI_REALTIME__VOICE", "cedar")
    monkeypatch.setenv("PARLEY_DEEPGRAM__ENDPOINTING_MS", "250")
    settings = Settings()
    assert settings.openai.base_url == "http://localhost:11434/v1"
    assert settings.openai_realtime.voice == "cedar"
    assert settings.deepgram.endpointing_ms == 250


def test_speech_servers_take_their_own_sections_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_OPENAI_TRANSCRIBE__BASE_URL", "http://whisper.internal:8000/v1")
    monkeypatch.setenv("PARLEY_OPENAI_TRANSCRIBE__MODEL", "Systran/faster-whisper-small")
    monkeypatch.setenv("PARLEY_OPENAI_SPEECH__BASE_URL", "http://kokoro.internal:8880/v1")
    monkeypatch.setenv("PARLEY_OPENAI_SPEECH__VOICE", "af_heart")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shared-secret-0123456789")
    settings = Settings()
    stt = registry.create("stt", "openai-transcribe", settings)
    tts = registry.create("tts", "openai-speech", settings)
    assert stt.url == "http://whisper.internal:8000/v1/audio/transcriptions"
    assert stt.settings.model == "Systran/faster-whisper-small"
    assert tts.url == "http://kokoro.internal:8880/v1/audio/speech"
    assert tts.request_body("Hi.")["voice"] == "af_heart"
    # OPENAI_API_KEY is for OpenAI: never sent to a self-hosted server.
    assert settings.openai_speech.api_key is None and settings.openai_transcribe.api_key is None
    assert tts.request_body("Hi.")["voice"] == "af_heart"


def test_openai_api_key_is_read_only_for_openais_own_speech_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shared-secret-0123456789")
    settings = Settings()  # the default base_url is OpenAI's
    for section in (settings.openai_transcribe, settings.openai_speech):
        assert section.api_key is not None
        assert section.api_key.get_secret_value() == "sk-shared-secret-0123456789"
        assert section.key_from == "OPENAI_API_KEY"
    assert "sk-shared" not in repr(settings) and "sk-shared" not in settings.model_dump_json()
    local = settings.openai_speech.model_validate(
        {"base_url": "http://kokoro.internal:8880/v1", "api_key": "kokoro-own-key"}
    )
    assert local.api_key is not None and local.key_from == "settings"


def test_a_providers_key_variable_is_never_sent_to_another_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OPENAI_API_KEY with llm = openai pointed at Groq or Ollama: the key stays unread (it
    would go to that server); the same for Deepgram's and ElevenLabs' variables."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-meant-for-openai-0123456789")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-meant-for-deepgram")
    monkeypatch.setenv("ELEVENLABS_API_KEY", "el-meant-for-elevenlabs")
    monkeypatch.setenv("PARLEY_OPENAI__BASE_URL", "https://api.groq.com/openai/v1")
    monkeypatch.setenv("PARLEY_OPENAI_REALTIME__BASE_URL", "ws://127.0.0.1:9/v1/realtime")
    monkeypatch.setenv("PARLEY_DEEPGRAM__BASE_URL", "ws://127.0.0.1:9/v1/listen")
    monkeypatch.setenv("PARLEY_ELEVENLABS__BASE_URL", "ws://127.0.0.1:9/v1")
    settings = Settings()
    for section in (
        settings.openai,
        settings.openai_realtime,
        settings.deepgram,
        settings.elevenlabs,
    ):
        assert section.api_key is None and section.key_from is None
    own = settings.openai.model_validate({"base_url": "https://api.openai.com/v1"})
    assert own.api_key is not None and own.key_from == "OPENAI_API_KEY"
