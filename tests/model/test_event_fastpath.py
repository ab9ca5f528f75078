"""The fast path of time.approved lines gives exactly what the general path gives.

The oracle is the general path itself (`events._parse_line`: orjson, the compiled
validator, the payload parser). Lines are written as raw NDJSON text, so the tests reach
what a dict cannot hold: duplicate keys, escapes, odd white space, number tokens, lone
surrogates, damaged text. For every line, `parse_event_line` must give the same Event
(equal, with the same repr and the same types throughout) or an EventError with the same
message; and the fast parser on its own must either decline (None) or give that Event.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from engine.errors import EventError
from engine.model import events
from engine.model.event_check import MEMO_LIMIT, ecma_pattern, pattern_matcher, schema_documents
from engine.model.event_fastpath import compile_fast_parser
from engine.model.events import Event, TimeApproved, parse_event_line

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / "events" / "v1" / "time.approved.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
COMMON = json.loads((ROOT / "schemas" / "v1" / "common.json").read_text(encoding="utf-8"))["$defs"]
DOCUMENTS = schema_documents(ROOT / "schemas")
FAST = events.fast_line_parser()
SOURCE, LINE = "events.ndjson", 7
ORIGIN = f"{SOURCE}:{LINE}"
OUTCOMES = Counter[str]()

NORMAL = ('{"id": "harvest-te-00000489", "type": "time.approved", "at": "2026-01-02T08:32:00-05:00", '
          '"payload": {"client": "hazel-studios", "project": "hazel-studios-social", "person": "wade", '
          '"role": "strategist", "date": "2025-12-30", "hours": "0.5", "billable": true, '
          '"task": "Strategy", "source_id": "harvest:2418300489"}}\n')


# ------------------------------------------------------------------ comparing the two paths


def shape(value: Any) -> Any:
    """The types all through a value (and the tzinfo of instants), for exact comparison."""
    if isinstance(value, tuple):
        return type(value).__name__, tuple(shape(item) for item in value)
    if isinstance(value, datetime):
        return "datetime", value.tzinfo
    return type(value).__name__


def outcome(parse: Callable[[], Event]) -> tuple[Any, ...]:
    try:
        event = parse()
    except EventError as exc:
        return "error", exc.source, exc.line, exc.message, str(exc)
    except Exception as exc:  # a crash of the general path must stay the same crash
        return "crash", type(exc), str(exc)
    assert isinstance(event, Event)
    return "event", event, repr(event), shape(event)


def general(text: str) -> tuple[Any, ...]:
    return outcome(lambda: events._parse_line(text, SOURCE, LINE, ORIGIN))


def agree(text: str) -> bool:
    """Assert that both paths give the same for `text`; say whether the fast path did."""
    expected = general(text)
    assert outcome(lambda: parse_event_line(text, SOURCE, LINE)) == expected, text[:3000]
    assert FAST is not None
    fast = FAST(text, ORIGIN)
    if fast is not None:
        assert ("event", fast, repr(fast), shape(fast)) == expected, text[:3000]
    try:
        raw = text.encode()  # as a file's line is read: bytes, decoded by the parsers
    except UnicodeEncodeError:
        raw = None  # a lone surrogate written raw: no file holds that
    if raw is not None:
        assert outcome(lambda: parse_event_line(raw, SOURCE, LINE)) == expected, text[:3000]
        assert (FAST(raw, ORIGIN) is not None) == (fast is not None), text[:3000]
    OUTCOMES["fast" if fast is not None else expected[0]] += 1
    return fast is not None


# ------------------------------------------------------------------ raw JSON text


class Obj(tuple):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs in order: a key may come twice."""


class Raw(str):
    """A token written as it is (NaN, 1e400, -0, a bare word)."""


def write_string(text: str, rng: random.Random) -> str:
    """A JSON string for `text`, escaped in one of the ways JSON allows."""
    written = json.dumps(text, ensure_ascii=rng.random() < 0.3)
    if rng.random() < 0.15 and "\\" not in written:  # a few letters as \\u escapes, / as \\/
        body = re.sub(r"[a-z/]", lambda m: (f"\\u{ord(m.group()):04x}" if m.group() != "/" else "\\/")
                      if rng.random() < 0.3 else m.group(), written[1:-1])
        written = f'"{body}"'
    return written


SPACE = ["", "", "", " ", " ", "  ", "\t", "\n", "\r\n", " \t\r\n "]
BAD_SPACE = ["\x0c", "\x0b", "\xa0", "\u2028", "\ufeff", "\x00"]


def dump(value: Any, rng: random.Random, odd: bool) -> str:
    """`value` as JSON text, with white space chosen by `rng` (not JSON's own if `odd`)."""
    def gap() -> str:
        if odd and rng.random() < 0.05:
            return rng.choice(BAD_SPACE)
        return rng.choice(SPACE) if rng.random() < 0.3 else ("" if rng.random() < 0.5 else " ")

    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return write_string(value, rng)
    if isinstance(value, Obj):
        pairs = [f"{gap()}{write_string(k, rng)}{gap()}:{gap()}{dump(v, rng, odd)}{gap()}"
                 for k, v in value]
        return "{" + ",".join(pairs) + ("" if pairs else gap()) + "}"
    if isinstance(value, dict):
        return dump(Obj(value.items()), rng, odd)
    if isinstance(value, list):
        return "[" + ",".join(f"{gap()}{dump(item, rng, odd)}{gap()}" for item in value) + "]"
    return json.dumps(value)


# ------------------------------------------------------------------ events and their mutations


def pattern(name: str) -> st.SearchStrategy[str]:
    text, method = ecma_pattern(COMMON[name]["pattern"])
    return st.from_regex(text, fullmatch=method == "fullmatch")


def two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


# Values the schema accepts (an instant or a date may still not exist: the general path
# reports those) ...
REF = pattern("ref")
TEXT = st.text(max_size=30)
DAY = st.dates().map(date.isoformat)
OFFSET = st.just("Z") | st.tuples(st.sampled_from("+-"), two(0, 23), st.sampled_from(["", ":"]),
                                  two(0, 59)).map("".join)
SECONDS = st.just("") | st.tuples(two(0, 59), st.just("") | st.from_regex(r"\.[0-9]{1,9}", fullmatch=True)
                                  ).map(lambda parts: ":" + "".join(parts))
INSTANT = st.tuples(DAY | st.tuples(st.integers(0, 9999).map(lambda n: f"{n:04d}"), two(1, 12),
                                    two(1, 31)).map("-".join),
                    two(0, 23), two(0, 59), SECONDS, OFFSET).map(
    lambda p: f"{p[0]}T{p[1]}:{p[2]}{p[3]}{p[4]}")
HOURS = pattern("nonneg_decimal_string") | st.sampled_from(["0", "0.5", "1.25", "000.000", "9" * 60])

# ... and the near misses and wrong types that mutations put in their place.
YEAR = st.sampled_from(["2026", "0000", "0001", "9999"])
ODD_DAY = st.tuples(YEAR, two(0, 13), two(0, 32)).map("-".join)
ODD_INSTANT = st.builds(
    lambda day, clock, sep, offset: f"{day}{sep}{clock}{offset}",
    DAY | ODD_DAY, st.sampled_from(["08:32", "08:32:00", "24:00", "23:60", "08:32:60", "08:32:", "8:32",
                                    "08:32:30.", "08:32:30,5"]),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["Z", "z", "+05:30", "+0530", "-1400", "+24:00", "", "+5:30", "+05", "UTC"]))
ODD_STRING = st.sampled_from(
    ["", " ", "\n", "\u2028", "\x00", "\x7f", "\U0001f600", "\u65e5\u672c", "x" * 20_000, "Acme",
     "-acme", "acme\n", "acme corp", "\u00e9", "a\u0301", "0.", ".5", "-1", "+1", "1e3", "1,5", "1 ",
     "\u0661", "\uff11", "NaN", "time.approved", "time.unapproved", "Time.approved", "true", "1",
     "2026-03-01\n", "2026-03-01T09:00:00Z\n"])
LONE = st.sampled_from(["\ud800", "\udfff", "a\udcffb", "\ud83d"])  # not valid Unicode text
ODD = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-0"), Raw("1e400"), Raw("1.50"), Raw("01"),
                     Raw("true"), Raw("null"), Raw("0x1"), Raw("'x'"), Raw("1.5"), Raw("2**64")]),
    st.sampled_from([[], {}, ["x"], {"a": "b"}]), LONE, ODD_STRING, st.text(max_size=12), REF,
    ODD_DAY, ODD_INSTANT, HOURS,
)
KEYS = ["id", "type", "at", "payload", "client", "project", "person", "role", "date", "hours",
        "billable", "task", "notes", "source_id", "Client", "hrs", "extra", "", "id ", "Payload"]

PAYLOAD = st.fixed_dictionaries(
    {"client": REF, "project": st.text(min_size=1, max_size=30) | REF, "person": REF, "role": REF,
     "date": DAY, "hours": HOURS, "billable": st.booleans()},
    optional={"task": st.text(min_size=1, max_size=30), "notes": TEXT,
              "source_id": st.text(min_size=1, max_size=30)})
EVENT = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=30) | st.just("harvest-te-1"),
                               "type": st.just("time.approved"), "at": INSTANT, "payload": PAYLOAD})
# Mutations: (action, in the payload?, key, value), applied to the event's pairs in order.
MUTATION = st.tuples(st.sampled_from(["drop", "set", "twice-before", "twice-after"]),
                     st.booleans(), st.sampled_from(KEYS), ODD)


def mutated(event: dict[str, Any], mutations: list[tuple[str, bool, str, Any]]) -> Obj:
    """The event as pairs, each mutation applied: a key dropped, set, or given twice."""
    top = list(event.items())
    body = list(event["payload"].items())
    for action, inner, key, value in mutations:
        pairs = body if inner else top
        if action == "drop":
            pairs[:] = [pair for pair in pairs if pair[0] != key]
        elif action == "set":
            spots = [i for i, pair in enumerate(pairs) if pair[0] == key]
            if spots:
                pairs[spots[0]] = (key, value)
            else:
                pairs.append((key, value))
        else:
            spots = [i for i, pair in enumerate(pairs) if pair[0] == key] or [len(pairs)]
            spot = spots[0] if action == "twice-before" else spots[-1] + 1
            pairs.insert(spot, (key, value))
    return Obj((key, Obj(body) if key == "payload" and value is event["payload"] else value)
               for key, value in top)


def damaged(text: str, rng: random.Random) -> str:
    """Sometimes the whole line is changed: cut short, or given something around it."""
    roll = rng.random()
    if roll < 0.85:
        return text + rng.choice(["\n", "", "\r\n", " \n"])
    if roll < 0.9:
        return text[:rng.randrange(len(text) + 1)]
    return rng.choice(["\ufeff", " ", "", "[", "\x00"]) + text + rng.choice(
        ["", " x", "{}", ",", "\x00", "]", "\n\n", "// note"])


# ------------------------------------------------------------------ the differential tests


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=EVENT, mutations=st.lists(MUTATION, max_size=3), rng=st.randoms(use_true_random=False))
def test_fast_path_gives_what_the_general_path_gives(
        event: dict[str, Any], mutations: list[tuple[str, bool, str, Any]],
        rng: random.Random) -> None:
    """Events, often valid, often one to three keys dropped, set to odd values or repeated,
    written out in the many ways JSON allows (and a few it does not)."""
    if rng.random() < 0.4:
        mutations = []
    odd = rng.random() < 0.1
    note("fast path" if agree(damaged(dump(mutated(event, mutations), rng, odd), rng))
         else "general path")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=EVENT, rng=st.randoms(use_true_random=False))
def test_valid_events_take_the_fast_path(event: dict[str, Any], rng: random.Random) -> None:
    """An event the schema accepts, with a real date and instant, never needs the general
    path (unless its instant is out of range in UTC: the general path reports that)."""
    text = dump(event, rng, odd=False)
    expected = general(text)
    took = agree(text)
    assert took == (expected[0] == "event"), (text[:2000], expected)


def test_the_differential_tests_saw_both_paths() -> None:
    # Runs after the tests above in file order; with -k it may see less.
    if not OUTCOMES:
        pytest.skip("run with the differential tests")
    assert OUTCOMES["fast"] >= 300, OUTCOMES
    assert OUTCOMES["error"] >= 300, OUTCOMES


# ------------------------------------------------------------------ examples

VALID = {
    "a normal line": NORMAL,
    "every optional key": NORMAL.replace('"task"', '"notes": "Status call", "task"'),
    "no optional key": NORMAL.replace(', "task": "Strategy", "source_id": "harvest:2418300489"', ""),
    "keys in another order": ('{"payload": {"billable": false, "hours": "0", "date": "2026-03-06", '
                              '"role": "designer", "person": "sam", "project": "acme-social", '
                              '"client": "acme"}, "at": "2026-03-06T22:02:11Z", "type": "time.approved", '
                              '"id": "t-2"}'),
    "no white space": NORMAL.replace('": ', '":').replace(", ", ","),
    "white space everywhere": NORMAL.replace('": ', '" \t:\r\n ').replace("{", "{ \n"),
    "escapes": NORMAL.replace('"wade"', '"w\\u0061de"').replace('"Strategy"', '"Str\\u00e9t\\"egy\\/\\n"'),
    "escaped keys": NORMAL.replace('"client"', '"\\u0063lient"').replace('"type"', '"typ\\u0065"'),
    "unicode notes": NORMAL.replace('"task": "Strategy"', '"notes": "caf\u00e9 \U0001f600 \u2028"'),
    "an astral escape": NORMAL.replace('"Strategy"', '"\\ud83d\\ude00"'),
    "a repeated key (the last one counts)": NORMAL.replace('"hours": "0.5"', '"hours": "9", "hours": "0.5"'),
    "a repeated type": NORMAL.replace('"type": "time.approved"', '"type": "time.approved", "type": "time.approved"'),
    "offset without a colon": NORMAL.replace("-05:00", "+0530"),
    "minutes only": NORMAL.replace("08:32:00-05:00", "08:32Z"),
    "fraction of a second": NORMAL.replace("08:32:00-05:00", "08:32:00.123456+01:00"),
    "zero hours": NORMAL.replace('"0.5"', '"0"'),
    "zero hours written long": NORMAL.replace('"0.5"', '"000.000"'),
    "many digits": NORMAL.replace('"0.5"', '"123456789012345678901234567890.123456789"'),
    "leap day": NORMAL.replace("2025-12-30", "2024-02-29"),
    "a long id": NORMAL.replace("harvest-te-00000489", "h" * 100_000),
    "a long client": NORMAL.replace("hazel-studios\"", "h" * 100_000 + '"'),
    "a control character escaped": NORMAL.replace('"Strategy"', '"\\u0000\\u001f"'),
    "DEL raw": NORMAL.replace('"Strategy"', '"\x7f"'),
    "carriage return line end": NORMAL.rstrip("\n") + "\r\n",
}

INVALID = {
    "task is null": NORMAL.replace('"Strategy"', "null"),
    "notes is null": NORMAL.replace('"task"', '"notes": null, "task"'),
    "source_id is empty": NORMAL.replace('"harvest:2418300489"', '""'),
    "task is empty": NORMAL.replace('"Strategy"', '""'),
    "id is empty": NORMAL.replace('"harvest-te-00000489"', '""'),
    "project is empty": NORMAL.replace('"hazel-studios-social"', '""'),
    "hours as a number": NORMAL.replace('"0.5"', "0.5"),
    "hours as a whole number": NORMAL.replace('"0.5"', "1"),
    "hours negative": NORMAL.replace('"0.5"', '"-1"'),
    "hours with a comma": NORMAL.replace('"0.5"', '"0,5"'),
    "hours in other digits": NORMAL.replace('"0.5"', '"\u0661"'),
    "billable as 1": NORMAL.replace("true", "1"),
    "billable as a string": NORMAL.replace("true", '"true"'),
    "billable as null": NORMAL.replace("true", "null"),
    "a date that does not exist": NORMAL.replace("2025-12-30", "2025-02-30"),
    "year zero": NORMAL.replace("2025-12-30", "0000-01-01"),
    "an instant that does not exist": NORMAL.replace("2026-01-02T", "2026-02-30T"),
    "an instant before year 1 in UTC": NORMAL.replace("2026-01-02T08:32:00-05:00", "0001-01-01T00:00+01:00"),
    "an instant after year 9999 in UTC": NORMAL.replace("2026-01-02T08:32:00-05:00", "9999-12-31T23:59-01:00"),
    "an instant without offset": NORMAL.replace("-05:00", ""),
    "lower-case t": NORMAL.replace("02T08", "02t08"),
    "a second of 60": NORMAL.replace("08:32:00", "08:32:60"),
    "an instant ending in a newline": NORMAL.replace("-05:00", "-05:00\\n"),
    "a date ending in a newline": NORMAL.replace("2025-12-30", "2025-12-30\\n"),
    "a client with capitals": NORMAL.replace('"hazel-studios"', '"Hazel"'),
    "a client ending in a newline": NORMAL.replace('"hazel-studios"', '"hazel\\n"'),
    "an unknown key": NORMAL.replace('"task"', '"tasks": "x", "task"'),
    "an unknown top-level key": NORMAL.replace('"type"', '"source": "x", "type"'),
    "an unknown key with a NaN": NORMAL.replace('"task"', '"x": NaN, "task"'),
    "a missing role": NORMAL.replace('"role": "strategist", ', ""),
    "a missing payload": re.sub(r', "payload": \{.*\}\}', "}", NORMAL),
    "another type": NORMAL.replace('"time.approved"', '"time.unapproved"'),
    "type given twice, first wrong": NORMAL.replace('"type": "time.approved"',
                                                    '"type": "expense.approved", "type": "time.approved"'),
    "type given twice, last wrong": NORMAL.replace('"type": "time.approved"',
                                                   '"type": "time.approved", "type": "expense.approved"'),
    "hours given twice, last bad": NORMAL.replace('"hours": "0.5"', '"hours": "0.5", "hours": 1'),
    "payload is a list": re.sub(r'"payload": \{.*\}\}', '"payload": []}', NORMAL),
    "a lone high surrogate escaped": NORMAL.replace('"Strategy"', '"\\ud800"'),
    "a lone low surrogate escaped": NORMAL.replace('"Strategy"', '"\\udc00x"'),
    "a surrogate pair reversed": NORMAL.replace('"Strategy"', '"\\ude00\\ud83d"'),
    "a lone surrogate in the text": NORMAL.replace("Strategy", "Str\udcffategy"),
    "a raw tab in a string": NORMAL.replace("Strategy", "Str\tategy"),
    "a raw newline in a string": NORMAL.replace("Strategy", "Str\nategy"),
    "a bad escape": NORMAL.replace("Strategy", "Str\\xategy"),
    "a trailing comma": NORMAL.replace('"}}', '",}}'),
    "trailing text": NORMAL.rstrip("\n") + " x\n",
    "a second object": NORMAL.rstrip("\n") + "{}\n",
    "a byte order mark": "\ufeff" + NORMAL,
    "a form feed before": "\x0c" + NORMAL,
    "a non-breaking space before": "\xa0" + NORMAL,
    "cut short": NORMAL[:-10],
    "empty": "",
    "a list of the event": "[" + NORMAL.rstrip("\n") + "]",
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_lines_take_the_fast_path(text: str) -> None:
    assert agree(text)
    assert agree(text)  # again, with every memo warm


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_doubtful_lines_take_the_general_path(text: str) -> None:
    assert not agree(text)


def test_the_general_path_words_the_errors() -> None:
    with pytest.raises(EventError) as caught:
        parse_event_line(INVALID["task is null"], SOURCE, LINE)
    assert caught.value.message == "time.approved event: payload.task: expected a string, got null"
    with pytest.raises(EventError) as caught:
        parse_event_line(INVALID["a date that does not exist"], SOURCE, LINE)
    assert caught.value.message == "time.approved event: day is out of range for month"


@pytest.mark.parametrize(("kind", "value"), [
    ("an array", ["time.approved"]), ("an object", {"t": 1}), ("a number", 7),
    ("a boolean", True)])
def test_a_type_that_is_not_a_string_is_one_clear_error(kind: str, value: Any) -> None:
    line = json.dumps({"id": "e-1", "type": value, "at": "2026-03-02T09:00:00Z", "payload": {}})
    with pytest.raises(EventError) as caught:
        parse_event_line(line, SOURCE, LINE)
    assert caught.value.message == (f"the event's 'type' is {kind}, not a string such as "
                                    "'time.approved'")
    assert str(caught.value).startswith(f"{SOURCE}:{LINE}: ")


def test_the_fast_event_is_the_general_event_value_for_value() -> None:
    event = parse_event_line(NORMAL, SOURCE, LINE)
    assert event == Event("harvest-te-00000489", "time.approved",
                          datetime(2026, 1, 2, 13, 32, tzinfo=timezone.utc),
                          TimeApproved("hazel-studios", "hazel-studios-social", "wade", "strategist",
                                       date(2025, 12, 30), Decimal("0.5"), True, "Strategy", None,
                                       "harvest:2418300489"), ORIGIN)
    assert event.at.tzinfo is timezone.utc
    assert type(event.payload.hours) is Decimal and str(event.payload.hours) == "0.5"
    # The same memos as the general path: a repeated date or number of hours is one object.
    again = parse_event_line(NORMAL.replace("harvest-te-00000489", "other"), SOURCE, LINE + 1)
    assert again.payload.date is event.payload.date and again.payload.hours is event.payload.hours
    assert again.at is event.at and again.origin == f"{SOURCE}:{LINE + 1}"


def test_every_example_and_fixture_time_entry_takes_the_fast_path() -> None:
    files = [ROOT / "examples" / "northwind" / "events.ndjson",
             ROOT / "tests" / "schemas" / "fixtures" / "events" / "valid.ndjson"]
    count = 0
    for path in files:
        for text in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if '"time.approved"' in text:
                assert agree(text), text
                count += 1
            elif text.strip():
                assert not agree(text), text
    assert count >= 10


# ------------------------------------------------------------------ the fast path stays in use


def test_parse_event_line_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_event_line asks the fast parser first, and it answers for a normal line."""
    assert FAST is not None
    answers: list[Any] = []

    def watched(text: str, origin: str) -> Any:
        answers.append(FAST(text, origin))
        return answers[-1]

    monkeypatch.setattr(events, "_fast_line", watched)
    event = parse_event_line(NORMAL, SOURCE, LINE)
    assert answers == [event] and event.origin == ORIGIN
    with pytest.raises(EventError):
        parse_event_line(INVALID["hours negative"], SOURCE, LINE)
    assert answers[1:] == [None]


def test_the_schema_of_time_approved_has_a_fast_path() -> None:
    # If this fails, the schema changed in a way the fast path does not derive: every
    # time.approved line is then parsed by the general path, about twice as slowly.
    assert FAST is not None
    assert FAST(NORMAL, ORIGIN) == events._parse_line(NORMAL, SOURCE, LINE, ORIGIN)


# ------------------------------------------------------------------ derived from the schema


def compiled(schema: dict[str, Any]) -> Any:
    return compile_fast_parser("time.approved", schema, DOCUMENTS, event=Event,
                               payload=TimeApproved, at=events._instant,
                               convert={"date": events._d, "hours": events._decimal})


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    schema = json.loads(json.dumps(SCHEMA))
    edit(schema)
    return schema


def properties(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["properties"]["payload"]["properties"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("edit", [
    lambda s: properties(s)["notes"].update(format="email"),
    lambda s: properties(s)["hours"].update({"$ref": "../../v1/common.json#/$defs/hours"}),
    lambda s: properties(s).update(tags={"type": "array", "items": {"type": "string"}}),
    lambda s: properties(s).update(rate={"type": "string"}),
    lambda s: properties(s)["task"].update(type=["string", "null"]),
    lambda s: properties(s)["billable"].update(type="integer"),
    lambda s: properties(s)["notes"].update(enum=["a", "b"], minLength=1),
    lambda s: s["properties"]["payload"].pop("additionalProperties"),
    lambda s: s["properties"]["payload"].update(additionalProperties={"type": "string"}),
    lambda s: s["properties"]["payload"]["required"].remove("date"),
    lambda s: s["properties"]["payload"]["required"].remove("billable"),
    lambda s: s["properties"].update(source={"type": "string"}),
    lambda s: s["properties"]["type"].update(const="time.unapproved"),
    lambda s: s["required"].remove("at"),
    lambda s: s.update(allOf=[{"required": ["id"]}]),
    lambda s: properties(s)["client"].update({"$ref": "#/nowhere"}),
], ids=["an unsupported keyword", "a string or a number", "an array", "a key TimeApproved lacks",
        "a null allowed", "an integer", "an enum with a length", "an open payload", "a schema for other keys",
        "an optional date", "an optional flag", "another envelope key", "another type",
        "an optional instant", "allOf", "a dangling $ref"])
def test_a_schema_the_fast_path_cannot_follow_has_none(edit: Callable[[dict[str, Any]], None]) -> None:
    assert compiled(changed(edit)) is None


def test_the_checks_follow_the_schema() -> None:
    """Patterns, lengths and consts are read from the schema, not written into the code."""
    strict = compiled(changed(lambda s: (properties(s)["client"].update(
        {"$ref": "../../v1/common.json#/$defs/currency", "pattern": "^acme$"}),
        properties(s)["notes"].update(maxLength=3), s["properties"]["id"].update(pattern="^h"))))
    assert strict is not None
    acme = NORMAL.replace('"hazel-studios"', '"acme"')
    assert strict(acme, ORIGIN) is not None
    assert strict(NORMAL, ORIGIN) is None
    assert strict(acme.replace('"harvest-te-00000489"', '"t-1"'), ORIGIN) is None
    assert strict(acme.replace('"task"', '"notes": "abc", "task"'), ORIGIN) is not None
    assert strict(acme.replace('"task"', '"notes": "abcd", "task"'), ORIGIN) is None
    assert strict(acme.replace('"task"', '"notes": "\U0001f600\U0001f600\U0001f600", "task"'),
                  ORIGIN) is not None  # lengths count characters, as JSON Schema does


def test_pattern_matcher_remembers_only_what_matched() -> None:
    memo, matches = pattern_matcher("^fastpath-[0-9]+$")
    assert memo == {}
    text = "".join(["fastpath-", "1"])  # made at run time: not the literal's object
    assert matches(text) and memo["fastpath-1"] is text  # the first copy seen is kept
    assert not matches("fastpath-x") and "fastpath-x" not in memo
    assert not matches("fastpath-1\n")  # ECMA `$`: the end of the string
    for n in range(MEMO_LIMIT + 10):
        matches(f"fastpath-{n}")
    assert len(memo) <= MEMO_LIMIT
    assert pattern_matcher("^fastpath-[0-9]+$")[0] is memo  # one memo per pattern


def test_repeated_values_share_the_first_copy_seen() -> None:
    first = parse_event_line(NORMAL, SOURCE, LINE)
    second = parse_event_line(NORMAL.replace("00000489", "00000490"), SOURCE, LINE + 1)
    assert first.id != second.id
    for name in ("client", "project", "person", "role", "task"):
        assert getattr(first.payload, name) is getattr(second.payload, name), name
    assert first.payload.source_id is not second.payload.source_id  # unique: not kept
