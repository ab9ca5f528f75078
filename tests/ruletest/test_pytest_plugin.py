"""The pytest plugin: the `billflow` fixture simulates, and renders a stream for snapshots."""

from __future__ import annotations

from pathlib import Path

# The plugin comes with the install (the `pytest11` entry point): nothing to load here.

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "examples" / "ops-repo"


def test_the_fixture_replays_through_the_core(billflow):
    billflow.root = OPS
    run = billflow.simulate(events="events/sample.ndjson", start="2026-01-01", until="2026-02-28")
    assert run.errors == ()
    issued = run.select(types=["invoice.issued"])
    assert [a.payload["invoice"]["number"] for a in issued] == [
        "LC-2026-0001", "LC-2026-0002", "LC-2026-0003", "LC-2026-0004"]


def test_inline_events_and_rejections_are_reported(billflow):
    billflow.root = OPS
    run = billflow.simulate(events=[{"id": "a1", "type": "invoice.approved",
                                     "at": "2026-01-05T10:00:00-05:00",
                                     "payload": {"invoice": "nope/x/1", "by": "sam"}}],
                            start="2026-01-01", until="2026-01-05")
    assert run.errors == ("event 1: unknown invoice 'nope/x/1'",)


def test_the_rendering_aligns_amounts_one_invoice_per_block(billflow, snapshot):
    billflow.root = OPS
    run = billflow.simulate(events="events/sample.ndjson", start="2026-01-01", until="2026-02-05")
    text = run.render(clients=["bolt"])
    block = text.split("\n\n")[0].splitlines()
    amounts = [line for line in block if line.rstrip().endswith(("1015.00", "612.50", "1627.50"))]
    assert len({len(line) for line in amounts}) == 1, amounts  # right-aligned in one column
    assert text == snapshot
