"""The serving process's collector policy (marketcast.runtime)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from marketcast import runtime


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_a_batch_windows_worth_of_queued_objects_triggers_no_collection() -> None:
    runtime.tune_collector()
    gc.collect(0)  # start from an empty young generation
    collections = gc.get_stats()[0]["collections"]
    # Containers alive together for a moment, as 1000 clients' queued updates are within
    # one batch window: under the default threshold (700) this ran 13 collections.
    alive = [[n] for n in range(10_000)]
    assert gc.get_stats()[0]["collections"] == collections
    assert len(alive) == 10_000


@pytest.mark.usefixtures("restored_collector")
def test_start_up_state_is_frozen_out_of_later_collections() -> None:
    survivor = [object()]
    runtime.freeze_startup_objects()
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())  # no generation walks it
