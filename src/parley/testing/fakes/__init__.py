"""Scripted fake providers for tests, demos, load tests and benchmarks."""

from parley.providers.fake.faults import Fault, FaultKind
from parley.providers.fake.llm import FakeLLM, echo_reply
from parley.providers.fake.stt import FakeSTT
from parley.providers.fake.tts import FakeTTS
from parley.providers.fake.vad import EnergyVAD

__all__ = ["EnergyVAD", "FakeLLM", "FakeSTT", "FakeTTS", "Fault", "FaultKind", "echo_reply"]
