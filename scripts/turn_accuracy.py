"""Premature endpoints and endpoint delay of the turn-taking policies on the labelled set.

Replays tests/data/turns (see its README) through the real Silero VAD and Smart Turn v3.2
(parley/testing/turn_accuracy.py says how) and prints a Markdown table: the silence policy
at 500 ms, and the detector at several thresholds and ask silences.

    PYTHONPATH=src .venv/bin/python scripts/turn_accuracy.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from parley.conversation import TurnTakingPolicy
from parley.providers.local.silero import SileroVAD
from parley.providers.local.smart_turn import SmartTurn
from parley.testing.turn_accuracy import (
    HEADER,
    Ask,
    clip_audio,
    load_clips,
    replay,
    summarize,
)

DATA = Path(__file__).parents[1] / "tests" / "data" / "turns"


def policies(quick: bool) -> list[tuple[str, TurnTakingPolicy]]:
    silence = [("silence 500 ms", TurnTakingPolicy())]
    default = TurnTakingPolicy(turn_detector="smart-turn")
    rows = [(f"smart-turn t={default.turn_detector_threshold} ask 200 ms (default)", default)]
    if quick:
        return silence + rows
    for threshold in (0.7, 0.8, 0.9, 0.95):
        rows.append(
            (
                f"smart-turn t={threshold} ask 200 ms",
                default.model_copy(update={"turn_detector_threshold": threshold}),
            )
        )
    for check in (300,):
        for threshold in (0.5, 0.8, 0.9):
            rows.append(
                (
                    f"smart-turn t={threshold} ask {check} ms",
                    default.model_copy(
                        update={
                            "turn_detector_threshold": threshold,
                            "turn_check_silence_ms": check,
                        }
                    ),
                )
            )
    for threshold in (0.5, 0.9):
        rows.append(
            (
                f"smart-turn t={threshold} ask 200 ms, max silence 1000 ms",
                default.model_copy(
                    update={"turn_detector_threshold": threshold, "turn_max_silence_ms": 1000}
                ),
            )
        )
    return silence + rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="silence and the default only")
    parser.add_argument(
        "--latency-ms",
        type=float,
        help="take the detector's answers as arriving this long after the ask "
        "(default: its measured time on this machine, now)",
    )
    args = parser.parse_args()
    latency = None if args.latency_ms is None else args.latency_ms / 1000
    clips = load_clips(DATA)
    audio = {c.file: clip_audio(DATA, c) for c in clips}
    vad, detector = SileroVAD(), SmartTurn()
    answers: dict[tuple[str, float], Ask] = {}
    load = os.getloadavg()
    started = time.perf_counter()
    print(f"All {len(clips)} clips\n\n{HEADER}")
    by_voice: dict[str, list[str]] = {}
    for name, policy in policies(args.quick):
        outcomes = [
            replay(audio[c.file], c, policy, vad, detector, answers, latency) for c in clips
        ]
        print(summarize(name, outcomes).row(), flush=True)
        for voice in sorted({c.voice for c in clips}):
            some = [o for o in outcomes if o.clip.voice == voice]
            by_voice.setdefault(voice, []).append(summarize(name, some).row())
    for voice, rows in by_voice.items():
        print(f"\nVoice {voice} only\n\n{HEADER}\n" + "\n".join(rows))
    took = time.perf_counter() - started
    print(
        f"\n{len(clips)} clips, {len(answers)} detector runs, {took:.1f} s; "
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"after: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
