"""Debian's headless Chromium as a person at the page: a fake microphone that plays a WAV of
real speech, and the page's own record (`window.parleyProbe`) of what it heard and when."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Page, async_playwright

from parley.audio.frames import AudioFrame
from parley.audio.wavfile import write_wav

LOUD = 0.02  # the page's capture worklet calls a sample this loud sound (capture-worklet.js)


def chromium_path() -> str:
    """Debian's chromium (make setup installs it); outside CI a machine without it skips."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make setup` runs scripts/install-browser.sh")
        pytest.skip("chromium is not installed (scripts/install-browser.sh installs it)")
    return found


@dataclass(frozen=True)
class Utterance:
    start: float  # where the clip begins in the WAV, seconds
    onset: float  # its first sample as loud as the page's onset threshold
    end: float  # its last such sample


def compose(path: Path, parts: Sequence[AudioFrame | float]) -> list[Utterance]:
    """Write one microphone WAV (16-bit, 16 kHz) of speech and silences (floats, seconds);
    returns where each piece of speech sits in it."""
    pieces: list[AudioFrame] = []
    spoken: list[Utterance] = []
    at = 0.0
    for part in parts:
        clip = AudioFrame.silence(part, 16000) if isinstance(part, float) else part
        if not isinstance(part, float):
            loud = np.flatnonzero(np.abs(clip.as_float()) >= LOUD)
            spoken.append(Utterance(at, at + loud[0] / 16000, at + loud[-1] / 16000))
        pieces.append(clip)
        at += clip.duration
    write_wav(path, AudioFrame(b"".join(p.pcm for p in pieces), 16000))
    return spoken


@contextlib.asynccontextmanager
async def chromium_page(url: str, microphone: Path) -> AsyncIterator[Page]:
    """A page at `url` in headless Chromium, whose microphone plays `microphone` once."""
    arguments = [
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
        "--disable-background-networking", "--disable-component-update",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ]  # fmt: skip
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=arguments, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1000, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(url)
            yield page
            assert not errors, f"errors in the page: {errors}"
        finally:
            await browser.close()


async def probe(page: Page) -> dict[str, Any]:
    record: dict[str, Any] = await page.evaluate("window.parleyProbe")
    return record


async def wait_for(page: Page, condition: str, limit: float) -> None:
    """Wait until the JavaScript expression holds in the page (p = window.parleyProbe)."""
    await page.wait_for_function(
        f"(() => {{ const p = window.parleyProbe; return {condition}; }})()",
        timeout=limit * 1000,
        polling=20,
    )


async def wait_until_audible(page: Page, limit: float, response: str | None = None) -> None:
    """Wait until the page's analyser heard the agent after a response started: the first
    one, or the one with id `response`."""
    start = "p.starts[0]" if response is None else f"p.starts.find((s) => s.id === '{response}')"
    await wait_for(
        page,
        f"{start} !== undefined && p.transitions.some((x) => x.audible && x.t >= {start}.t)",
        limit,
    )


def events(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in record["events"] if e.get("event") == name]


def first_audible(record: dict[str, Any], after: float) -> float | None:
    """When the analyser first heard the agent after page time `after` (ms)."""
    return next((x["t"] for x in record["transitions"] if x["audible"] and x["t"] >= after), None)


def audible_at(record: dict[str, Any], t: float) -> bool:
    state = False
    for transition in record["transitions"]:
        if transition["t"] > t:
            break
        state = transition["audible"]
    return state
