"""Reading an events file: every line is an event or one clear error, and none is lost."""

from __future__ import annotations

from pathlib import Path

from engine.core.replay import read_events
from engine.errors import EventError
from engine.model.events import Event

TIME = ('{"id": "t-%d", "type": "time.approved", "at": "2026-03-02T09:00:00-05:00", '
        '"payload": {"client": "acme", "project": "acme-web", "person": "dana", '
        '"role": "designer", "date": "2026-03-02", "hours": "1.5", "billable": true, '
        '"task": "%s"}}')


def test_each_line_is_an_event_or_the_error_of_that_line(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    lines = [
        (TIME % (1, "Café")).encode(),
        (TIME % (2, "Design")).encode().replace(b"Design", b"Des\xffgn"),  # not UTF-8
        b"   ",
        (TIME % (3, "Design")).encode() + b"\r",  # a CRLF file
        b'{"id": "t-4", "type": "time.approved"',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_events(path))
    assert [type(item) for item in items] == [Event, EventError, Event, EventError]
    first, bad_bytes, third, cut = items
    assert first.payload.task == "Café" and third.id == "t-3"
    assert first.origin == f"{path}:1" and third.origin == f"{path}:4"
    assert str(bad_bytes).startswith(f"{path}:2: not valid JSON (")
    assert "UTF-8" in str(bad_bytes)
    assert str(cut).startswith(f"{path}:5: not valid JSON (")


def test_a_line_reads_the_same_as_its_text(tmp_path: Path) -> None:
    from engine.model.events import parse_event_line

    path = tmp_path / "events.ndjson"
    text = TIME % (9, "Ünïcode ✓")
    path.write_text(text + "\n", encoding="utf-8")
    (read,) = read_events(path)
    assert read == parse_event_line(text, str(path), 1)
