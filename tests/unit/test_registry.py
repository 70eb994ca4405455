"""The registry hands each factory its own settings section and the shared context.

The registry names a factory and its section as strings (so choosing a provider imports only
its module), which no type checker follows; these tests check every entry against the
factory's own annotations, and the sections against the root Settings.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from typing import Any, get_args

import pytest

from parley.providers import registry
from parley.providers.context import ProviderContext
from parley.settings import Settings
from parley.testing.fakes import FakeLLM
from parley.testing.fakes.config import FakeProviderSettings
from parley.types import ChatMessage

ENTRIES = [(kind, name) for kind in registry.KINDS for name in registry.names(kind)]
SECTION_TYPES = {
    name: typing.get_type_hints(getattr(registry.ProviderSettings, name).fget)["return"]
    for name in get_args(registry.Section)
}


@pytest.mark.parametrize(("kind", "name"), ENTRIES)
def test_each_factory_takes_its_section_and_the_context(kind: registry.Kind, name: str) -> None:
    build = registry.factory(kind, name)
    hints = typing.get_type_hints(build)
    first, second = inspect.signature(build).parameters
    section = registry.entry(kind, name).section
    assert hints[first] is (type(None) if section is None else SECTION_TYPES[section])
    assert hints[second] is ProviderContext
    assert issubclass(hints["return"], registry.EXPECTED[kind])


def test_the_sections_are_the_root_settings_fields_of_those_types() -> None:
    members = {n for n, _ in inspect.getmembers(registry.ProviderSettings) if not n.startswith("_")}
    assert members == {*SECTION_TYPES, "provider_context"}
    for name, section_type in SECTION_TYPES.items():
        assert Settings.model_fields[name].annotation is section_type, name


built: list[tuple[Any, ProviderContext]] = []


def probe_llm(config: FakeProviderSettings, context: ProviderContext) -> FakeLLM:
    built.append((config, context))
    return FakeLLM(config.llm_replies)


def test_create_hands_the_factory_its_section_and_the_sessions_instructions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        registry.FACTORIES["llm"], "probe", registry.Factory(f"{__name__}:probe_llm", "fake")
    )
    settings = Settings.model_validate(
        {"fake": {"llm_replies": ["Hi."]}, "session": {"instructions": "Be brief."}}
    )
    llm = registry.create("llm", "probe", settings)
    assert built == [(settings.fake, ProviderContext(instructions="Be brief."))]

    async def reply() -> str:
        return "".join([t async for t in llm.stream([ChatMessage("user", "hello")])])

    assert asyncio.run(reply()) == "Hi."


def test_a_fake_chosen_by_name_is_built_from_the_fake_section() -> None:
    settings = Settings.model_validate({"fake": {"stt_transcript": "good morning"}})
    stt = registry.create("stt", "fake", settings)
    assert stt.unscripted_text == "good morning"


def test_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(registry.UnknownProviderError, match="choose: deepgram, fake"):
        registry.create("stt", "nope", Settings.model_validate({}))
