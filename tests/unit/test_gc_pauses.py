"""The garbage collector in the server: start-up objects frozen, collections measured."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from parley.server.gc_pauses import GCPauses, freeze_startup_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process goes on collecting as before


def test_a_frozen_heap_leaves_full_collections_little_to_walk(unfrozen: None) -> None:
    # What start-up makes and keeps; lists, because the collector tracks every list (a dict of
    # plain numbers it does not track at all, and the count below would not see it).
    kept = [[n] for n in range(50_000)]
    gc.collect()
    assert len(gc.get_objects(generation=2)) >= len(kept)
    assert freeze_startup_heap() >= len(kept)
    assert len(gc.get_objects(generation=2)) < len(kept) // 10
    assert kept[-1] == [49_999]


def test_each_collection_is_measured_by_generation() -> None:
    registry = CollectorRegistry()
    pauses = GCPauses(registry)
    pauses.install()
    pauses.install()  # once only
    try:
        assert gc.callbacks.count(pauses._callback) == 1
        gc.collect(2)
        gc.collect(0)
    finally:
        pauses.uninstall()
    assert pauses._callback not in gc.callbacks
    count = registry.get_sample_value("parley_gc_pause_seconds_count", {"generation": "2"})
    assert count is not None and count >= 1
    assert registry.get_sample_value("parley_gc_pause_seconds_count", {"generation": "0"})
    assert 0 < pauses.longest < 5
