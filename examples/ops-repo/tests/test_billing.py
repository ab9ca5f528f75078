"""Snapshots of everything the rules decide over the sample events.

A rule change that alters any invoice, approval or reminder changes a snapshot below:
run `pytest --snapshot-update` and commit the updated __snapshots__ with the rule change,
so the pull request shows the reviewer exactly what will be billed differently.
"""

import pytest

SAMPLE = {"events": "events/sample.ndjson", "start": "2026-01-01", "until": "2026-04-30"}


def test_sample_events_are_all_accepted(billflow):
    assert billflow.simulate(**SAMPLE).errors == ()


@pytest.mark.parametrize("client", ["acme", "bolt"])
def test_billing_per_client(billflow, client, snapshot):
    assert billflow.simulate(**SAMPLE).render(clients=[client]) == snapshot


def test_invoices_issued(billflow, snapshot):
    assert billflow.simulate(**SAMPLE).render(types=["invoice.issued"]) == snapshot
