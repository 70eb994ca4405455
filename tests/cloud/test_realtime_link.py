"""The OpenAI Realtime link's rule: each piece of shared state has one writer, the link's
(or its responses') own methods. The facets and the connection read it and call them."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

from parley.providers.cloud import realtime_connection, realtime_facets
from parley.providers.cloud.config import OpenAIRealtimeSettings
from parley.providers.cloud.realtime_link import RealtimeLink
from parley.providers.cloud.realtime_responses import Responses
from parley.providers.scope import SessionScope


def public_names(cls: type) -> list[str]:
    return [name for name in dir(cls) if not name.startswith("_")]


def test_nothing_outside_the_link_can_set_its_state() -> None:
    link = RealtimeLink(OpenAIRealtimeSettings())
    objects = {"link": link, "responses": link.responses}
    assert public_names(RealtimeLink) and public_names(Responses)
    for label, obj in objects.items():
        assert not hasattr(obj, "__dict__"), label  # slots: no attribute can be added
        for name in [*public_names(type(obj)), "extra"]:
            with pytest.raises(AttributeError):
                setattr(obj, name, getattr(obj, name, None))
    with pytest.raises(TypeError):  # the responses in flight are read-only views
        link.by_server_id["r1"] = link.responses.new_response()  # type: ignore[index]
    assert not link.by_server_id


def test_binding_the_vad_facet_is_what_turns_the_server_vad_on() -> None:
    settings, scope = OpenAIRealtimeSettings(), SessionScope()
    stt = realtime_facets.RealtimeSTT(settings).for_session(scope)
    assert stt.link is not None and not stt.link.server_vad
    vad = realtime_facets.RealtimeVAD(settings).for_session(scope)
    assert vad.link is stt.link and stt.link.server_vad


def foreign_writes(source: str) -> list[str]:
    """Assignments to another object's attribute, and uses of another object's private
    attributes (`link._x`, `self._link._x`): ways around the link's methods."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for part in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(part, ast.Attribute) and not is_self(part.value):
                    found.append(f"line {part.lineno}: {ast.unparse(part)} = ...")
        if isinstance(node, ast.Attribute) and is_private(node.attr) and not is_self(node.value):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("module", [realtime_facets, realtime_connection])
def test_the_facets_and_the_connection_change_shared_state_only_through_methods(
    module: ModuleType,
) -> None:
    assert foreign_writes(inspect.getsource(module)) == []


def test_the_writes_the_old_provider_made_are_found() -> None:
    old = "link.server_vad = True\nself._link.lost_ends -= 1\nlink._vad_events.clear()\n"
    assert len(foreign_writes(old)) == 3
