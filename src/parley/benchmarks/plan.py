"""How much each scenario does: the default run, and the quick smoke run for CI."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from parley.benchmarks.process import ServerProcess, free_port, running
from parley.benchmarks.spec import Framework, Latencies, ServerSpec
from parley.conversation.policy import TurnTakingPolicy
from parley.testing.fakes.config import FakeProviderSettings


class Plan(BaseModel):
    barge_ins: int = Field(6, ge=1, description="barge-ins, all in one call")
    input_gap_close_s: float = Field(10.0, gt=0, description="how long the TTS close hangs")
    hangups: int = Field(3, ge=1, description="calls hung up on while LLM and TTS hang")
    hangup_close_s: float = Field(10.0, gt=0, description="how long their closes hang")
    overhead_turns: int = Field(8, ge=1)
    capacity_levels: list[int] = Field(
        default_factory=lambda: [1, 10, 20, 40, 80, 120, 160, 200, 300],
        description="rising, until one fails",
    )
    capacity_refine: int = Field(2, ge=0, description="levels between the last pass and fail")
    capacity_turns: int = Field(1, ge=1, description="questions per call at each level")
    embedded_turns: int = Field(20, ge=1)


DEFAULT = Plan()
QUICK = Plan(
    barge_ins=1,
    input_gap_close_s=2.0,
    hangups=1,
    hangup_close_s=3.0,
    overhead_turns=2,
    capacity_levels=[2],
    capacity_refine=0,
    capacity_turns=1,
    embedded_turns=1,
)


@dataclass(frozen=True)
class Setup:
    """What every scenario of one framework shares."""

    framework: Framework
    workdir: Path
    latencies: Latencies
    policy: TurnTakingPolicy
    plan: Plan
    records: bool = False  # parley keeps call records (in the work folder)

    def serve(
        self,
        scenario: str,
        fake: FakeProviderSettings,
        *,
        workers: int = 1,
        max_sessions: int | None = None,
        max_loop_lag_s: float | None = None,
    ) -> AbstractAsyncContextManager[ServerProcess]:
        """This framework's server for `scenario`, with these fakes (started on entry); for
        parley, `workers` processes (`parley serve --workers`) and admission control."""
        name = f"{self.framework}{'-records' if self.records else ''}-{scenario}"
        spec = ServerSpec(
            framework=self.framework,
            port=free_port(),
            events=self.workdir / f"{name}.events.jsonl",
            fake=fake,
            policy=self.policy,
            records=self.workdir / f"{name}.records" if self.records else None,
            workers=workers,
            max_sessions=max_sessions,
            max_loop_lag_s=max_loop_lag_s,
        )
        return running(spec, self.workdir, name)
