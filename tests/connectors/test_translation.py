"""One batch of vendor records into events and problems (connectors/translation.py)."""

from __future__ import annotations

import pytest

from connectors import translation
from connectors.sources import SourceProblem
from connectors.translation import Translation, translate_records
from engine.errors import UnmappedRecord


def build(record, label):
    if record.get("skip"):
        return None
    if record.get("project") is None:
        raise UnmappedRecord(label, "it names no project")
    return {"id": f"x:{record['id']}", "hours": int(record["hours"])}


def label(record):
    return f"time_entry {record.get('id')}"


def test_the_public_names_are_exported():
    assert set(translation.__all__) == {"Translation", "translate_records", "READ_ERRORS"}


def test_events_are_kept_in_order_and_no_event_is_nothing():
    found = translate_records([{"id": 1, "project": "p", "hours": "2"}, {"id": 2, "skip": True},
                               {"id": 3, "project": "p", "hours": "1"}], label, build)
    assert found == Translation(({"id": "x:1", "hours": 2}, {"id": "x:3", "hours": 1}), ())


def test_an_unmapped_record_is_a_problem_under_its_label_and_the_rest_go_through():
    found = translate_records([{"id": 1}, {"id": 2, "project": "p", "hours": "3"}], label, build)
    assert found.events == ({"id": "x:2", "hours": 3},)
    assert found.problems == (SourceProblem("time_entry 1", "it names no project"),)


def test_an_unreadable_record_is_a_problem_in_the_sources_words():
    records = [{"id": 1, "project": "p"}, {"id": 2, "project": "p", "hours": "two"},
               {"id": 3, "project": "p", "hours": "4"}]
    found = translate_records(records, label, build,
                              lambda exc: f"Vendor sent a record billflow cannot read ({exc})")
    assert found.events == ({"id": "x:3", "hours": 4},)
    assert [problem.record for problem in found.problems] == ["time_entry 1", "time_entry 2"]
    assert found.problems[0].message == "Vendor sent a record billflow cannot read ('hours')"
    assert found.problems[1].message.startswith("Vendor sent a record billflow cannot read (")


def test_without_wording_an_unreadable_record_is_still_a_problem_not_a_stall():
    found = translate_records([{"id": 1, "project": "p"}, {"id": 3, "project": "p", "hours": "4"}],
                              label, build)
    assert found.events == ({"id": "x:3", "hours": 4},)
    assert found.problems == (SourceProblem("time_entry 1",
                                            "billflow cannot read this record (no 'hours')"),)


def test_only_the_read_errors_asked_for_are_caught():
    found = translate_records([{"id": 1, "project": "p", "hours": "two"}], label, build, str,
                              read_errors=(ValueError,))
    assert len(found.problems) == 1
    with pytest.raises(KeyError):
        translate_records([{"id": 1, "project": "p"}], label, build, str,
                          read_errors=(ValueError,))


def test_a_problem_found_while_reading_stays_in_its_place():
    early = SourceProblem("time_entry 0", "Vendor sent an entry billflow cannot read ('start')")
    found = translate_records([{"id": 1}, early, {"id": 2, "project": "p", "hours": "1"}],
                              label, build)
    assert found.problems == (SourceProblem("time_entry 1", "it names no project"), early)
    assert found.events == ({"id": "x:2", "hours": 1},)
