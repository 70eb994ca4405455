"""Imports point down the layers: audio -> conversation -> providers -> session -> transports
-> server -> cli. Every module under src/parley is read with `ast` (imports inside functions
and under TYPE_CHECKING count too) and none may import a module of a higher layer, except
the known ones listed below, which are waiting for the issue items that remove them."""

from __future__ import annotations

import ast
from pathlib import Path

import parley
from parley.session import Session
from parley.session.port import SessionControl

SOURCE = Path(parley.__file__).parent

# Shared leaves (0) import no other parley module but each other: types, events (its own
# clock from timing), problems, and the package itself (its version).
SHARED = 0
LAYERS: dict[str, int] = {
    "parley": SHARED,
    "parley.types": SHARED,
    "parley.events": SHARED,
    "parley.timing": SHARED,
    "parley.problems": SHARED,
    "parley.logsafe": SHARED,  # escapes what clients sent, for every layer that logs it
    "parley.heap": SHARED,  # malloc_trim, for the server and the model process
    "parley.audio": 1,
    "parley.conversation": 2,
    "parley.providers": 3,
    "parley.session": 4,
    "parley.transports": 5,
    "parley.server": 6,
    # Call records sit beside the server: they observe sessions (through Session.observers)
    # and the server runs them; nothing below the server imports them.
    "parley.records": 6,
    # Many nodes: live calls through Redis, beside the server (which runs it).
    "parley.cluster": 6,
    # The root Settings composes every section (providers', session's, transports'): it sits
    # with the server, and nothing below reads it.
    "parley.settings": 6,
    # The commands, and what only they run.
    "parley.cli": 7,
    "parley.check": 7,
    "parley.talk": 7,
    "parley.demo": 7,
    "parley.benchmarks": 7,
    # `parley talk` on this computer: the terminal call sits with the commands; the devices
    # and the echo canceller are audio (the desktop transport, layer 5, uses them).
    "parley.desktop": 7,
    "parley.desktop.devices": 1,
    "parley.desktop.echo": 1,
    # What only drives a server (parley.testing), each part at the layer of what it imports:
    # the scripted providers with the providers, the in-memory transport and the Twilio fake
    # caller with the transports.
    "parley.testing": 7,
    "parley.testing.fakes": 3,
    "parley.testing.memory_transport": 5,
    "parley.testing.twilio_caller": 5,
    "parley.testing.fake_devices": 1,
}

# Upward imports allowed, (importer, imported): none. A new one must be argued for here.
# Fixing one means deleting its line here (a stale line fails the test).
KNOWN_UPWARD: frozenset[tuple[str, str]] = frozenset()


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in SOURCE.rglob("*.py")}


def layer(module: str) -> int:
    """The layer of the longest entry of LAYERS that is the module or a package of it."""
    for cut in range(module.count(".") + 1, 0, -1):
        prefix = ".".join(module.split(".")[:cut])
        if prefix in LAYERS and (prefix == module or prefix != "parley"):
            return LAYERS[prefix]
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def absolute_base(package: str, node: ast.ImportFrom) -> str:
    """The module a `from ... import` reads from, with a relative one resolved in `package`."""
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return base


def imported(importer: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The parley modules `importer` imports (`from pkg import submodule` names the submodule)."""
    found: set[str] = set()
    package = importer if tree_is_package(importer, known) else importer.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = absolute_base(package, node)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in known else base)
    return {m for m in found if m == "parley" or m.startswith("parley.")}


def session_class_imports(importer: str, tree: ast.Module, known: set[str]) -> list[str]:
    """Where `importer` names the Session class (parley.session.session.Session) or its module."""
    package = importer if tree_is_package(importer, known) else importer.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("parley.session.session")]
        elif isinstance(node, ast.ImportFrom):
            base = absolute_base(package, node)
            for alias in node.names:
                named = f"{base}.{alias.name}"
                if named in ("parley.session.Session", "parley.session.session") or (
                    base == "parley.session.session"
                ):
                    found.append(named)
    return found


def tree_is_package(module: str, known: set[str]) -> bool:
    return any(other.startswith(module + ".") for other in known)


def upward_imports() -> set[tuple[str, str]]:
    trees = modules()
    known = set(trees)
    return {
        (importer, target)
        for importer, tree in trees.items()
        for target in imported(importer, tree, known)
        if layer(target) > layer(importer)
    }


def test_every_module_has_a_layer() -> None:
    missing = [m for m in modules() if not _has_layer(m)]
    assert not missing, f"add these to LAYERS: {missing}"


def _has_layer(module: str) -> bool:
    try:
        layer(module)
    except AssertionError:
        return False
    return True


def test_no_new_import_points_up_a_layer() -> None:
    new = sorted(upward_imports() - KNOWN_UPWARD)
    assert not new, "imports up a layer:\n" + "\n".join(f"  {a} -> {b}" for a, b in new)


def test_the_known_upward_imports_still_exist() -> None:
    """Once one is gone, its line goes too, so it cannot come back unnoticed."""
    stale = sorted(KNOWN_UPWARD - upward_imports())
    assert not stale, "no longer imported, remove from KNOWN_UPWARD: " + str(stale)


def test_no_provider_module_imports_the_root_settings() -> None:
    """Factories get their own section and a ProviderContext (providers/registry.py)."""
    trees = modules()
    readers = sorted(
        importer
        for importer, tree in trees.items()
        if importer.startswith("parley.providers")
        and "parley.settings" in imported(importer, tree, set(trees))
    )
    assert readers == []


def test_transports_never_import_the_session_class() -> None:
    """Transports drive their session through transports.base.SessionControl (issue 18.2)."""
    trees = modules()
    known = set(trees)
    found = {
        importer: names
        for importer, tree in trees.items()
        if importer.startswith("parley.transports")
        and (names := session_class_imports(importer, tree, known))
    }
    assert found == {}


def test_the_session_is_a_session_control() -> None:
    """Every call a transport may make, the session has (mypy checks the signatures where
    the routes attach a session)."""
    assert issubclass(Session, SessionControl)


def test_the_session_class_reader_sees_every_spelling() -> None:
    known = {"parley.session", "parley.session.session", "parley.transports.realtime.context"}
    for source in (
        "from parley.session import Session",
        "from parley.session.session import Session",
        "from parley.session import session",
        "import parley.session.session",
        "def f():\n    from ...session import Session",
    ):
        tree = ast.parse(source)
        assert session_class_imports("parley.transports.realtime.context", tree, known), source
    fine = ast.parse("from parley.session.config import SessionConfig\nfrom parley import events")
    assert session_class_imports("parley.session.port", fine, known) == []


def test_the_import_reader_sees_lazy_relative_and_submodule_imports() -> None:
    """The checks above are only as good as this reader."""
    known = {"parley.providers", "parley.providers.registry", "parley.providers.fake"}
    tree = ast.parse(
        "from parley.providers import registry\n"
        "def f():\n"
        "    from parley.settings import Settings\n"
        "from . import fake\n"
        "from .registry import create\n"
        "import json\n"
    )
    assert imported("parley.providers.base", tree, known) == {
        "parley.providers.registry",
        "parley.settings",
        "parley.providers.fake",
    }
    assert layer("parley.providers.local.whisper") == 3
    assert layer("parley.settings") > layer("parley.providers.registry")
