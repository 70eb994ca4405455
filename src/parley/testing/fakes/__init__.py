"""Scripted fake providers for tests, demos, load tests and benchmarks."""

from parley.testing.fakes.faults import Fault, FaultKind
from parley.testing.fakes.llm import FakeLLM, echo_reply
from parley.testing.fakes.stt import FakeSTT
from parley.testing.fakes.tts import FakeTTS
from parley.testing.fakes.turn import FakeTurnDetector
from parley.testing.fakes.utterance_stt import ScriptedUtteranceSTT
from parley.testing.fakes.vad import EnergyVAD

__all__ = [
    "EnergyVAD",
    "FakeLLM",
    "FakeSTT",
    "FakeTTS",
    "FakeTurnDetector",
    "Fault",
    "FaultKind",
    "ScriptedUtteranceSTT",
    "echo_reply",
]
