"""Garbage collection during a replay: raised thresholds, restored afterwards."""

from __future__ import annotations

import gc
import threading

from datetime import date
from pathlib import Path

import pytest

from engine.core.collector import REPLAY_THRESHOLDS, few_collections
from engine.core.replay import read_events, replay
from engine.ruleset.loader import load_ruleset

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"


@pytest.fixture(autouse=True)
def default_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_thresholds_are_raised_inside_and_restored_after():
    with few_collections():
        assert gc.get_threshold() == REPLAY_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_uses_restore_only_when_the_outermost_ends():
    with few_collections():
        with few_collections():
            assert gc.get_threshold() == REPLAY_THRESHOLDS
        assert gc.get_threshold() == REPLAY_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_are_restored_when_the_body_raises():
    with pytest.raises(RuntimeError):
        with few_collections():
            raise RuntimeError("a rejected rule set")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_uses_from_two_threads_restore_the_original():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with few_collections():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with few_collections():
        thread.start()
        assert inside.wait(5)
    # This thread's use ended first: the other one is still running.
    assert gc.get_threshold() == REPLAY_THRESHOLDS
    release.set()
    thread.join(5)
    assert gc.get_threshold() == (700, 10, 10)


def test_cycles_are_still_collected_while_a_replay_runs():
    class Node:
        pass

    with few_collections():
        collections = gc.get_stats()[0]["collections"]
        for _ in range(REPLAY_THRESHOLDS[0] * 2):
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle, garbage at once
        # The young generation was collected on the way, freeing the cycles.
        assert gc.get_stats()[0]["collections"] > collections
        assert gc.get_count()[0] < REPLAY_THRESHOLDS[0]


def test_a_replay_runs_with_the_raised_thresholds():
    rules = load_ruleset(NORTHWIND)
    seen: list[tuple[int, int, int]] = []
    replay(rules, read_events(NORTHWIND / "events.ndjson"), date(2026, 1, 1),
           date(2026, 1, 31), on_progress=lambda count: seen.append(gc.get_threshold()))
    assert seen and set(seen) == {REPLAY_THRESHOLDS}
    assert gc.get_threshold() == (700, 10, 10)
