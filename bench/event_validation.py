"""Micro-benchmark of event validation: microseconds per event, three ways.

For `time.approved`, `expense.approved`, `payment.received` and `invoice.approved`, it
validates a stream of distinct, valid events with

- jsonschema (`Draft202012Validator(...).is_valid`, over the registry of `schemas/`),
- fastjsonschema (compiled from the same schemas),
- `engine.model.event_check` (the schemas compiled to plain Python),

and prints the best CPU time per event over a few passes. The streams are drawn from one
seed the way an agency's year looks: a few dozen clients, people and roles, dates over one
year, hours in quarter hours; time entries come in timesheets of one to ten entries of one
person, approved together (one `at`), and every other event has an `at` of its own. The
last column is event_check's worst case: every string in every event is new, so the memo
of strings already known to match a pattern never helps. The memos are emptied before
each pass, so no pass profits from the one before.

    python bench/event_validation.py [--events 20000] [--passes 5]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fastjsonschema  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

from engine.model import event_check  # noqa: E402
from engine.ruleset.schema_check import schema_registry  # noqa: E402

SCHEMAS = ROOT / "schemas"
TYPES = ("time.approved", "expense.approved", "payment.received", "invoice.approved")

CLIENTS = [f"client-{i:02d}" for i in range(40)]
PEOPLE = [f"person_{i:02d}" for i in range(60)]
ROLES = ["strategist", "designer", "developer", "copywriter", "producer", "account-lead",
         "art-director", "analyst"]
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "JPY"]
TASKS = ["Workshop", "Design review", "Build", "QA", "Copy", "Planning", "Meetings"]
START = date(2026, 1, 1)


class Draw:
    """Values for one stream: realistic repetition, or (fresh) every string new."""

    def __init__(self, seed: int, fresh: bool) -> None:
        self.rng = random.Random(seed)
        self.fresh = fresh
        self.count = 0

    def pick(self, options: list[str]) -> str:
        self.count += 1
        if self.fresh:
            return f"{self.rng.choice(options)}-{self.count}"
        return self.rng.choice(options)

    def day(self) -> date:
        if self.fresh:
            return date(1900, 1, 1) + timedelta(days=self.rng.randrange(73000))
        return START + timedelta(days=self.rng.randrange(365))

    def at(self) -> str:
        day = self.day() + timedelta(days=1)
        seconds = self.rng.randrange(8 * 3600, 20 * 3600)
        offset = self.rng.choice(["-05:00", "-04:00", "Z", "+01:00"])
        return (f"{day.isoformat()}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:"
                f"{seconds % 60:02d}{offset}")

    def decimal(self, top: int, places: int) -> str:
        if self.fresh:
            self.count += 1
            return f"{self.count}.{self.rng.randrange(10 ** places):0{places}d}"
        return f"{self.rng.randrange(top)}.{self.rng.randrange(10 ** places):0{places}d}"

    def hours(self) -> str:
        if self.fresh:
            return self.decimal(0, 2)
        return self.rng.choice(["0.25", "0.5", "0.75", "1", "1.25", "1.5", "2", "2.5", "3", "4",
                                "6", "7.5", "8"])


def events(event_type: str, count: int, seed: int, fresh: bool = False) -> list[dict[str, Any]]:
    draw = Draw(seed, fresh)
    made = []
    sheet: dict[str, Any] = {}
    at = ""
    for number in range(count):
        payload: dict[str, Any]
        if event_type == "time.approved":
            if fresh or not sheet or draw.rng.random() < 0.2:  # a new timesheet
                sheet = {"client": draw.pick(CLIENTS), "project": draw.pick(CLIENTS) + "-retainer",
                         "person": draw.pick(PEOPLE), "role": draw.pick(ROLES)}
                at = draw.at()
            payload = {**sheet, "date": draw.day().isoformat(), "hours": draw.hours(),
                       "billable": draw.rng.random() < 0.85}
            if draw.rng.random() < 0.7:
                payload.update(task=draw.pick(TASKS), notes="Worked on " + draw.pick(TASKS),
                               source_id=str(600000000 + number))
        elif event_type == "expense.approved":
            payload = {"client": draw.pick(CLIENTS), "project": draw.pick(CLIENTS) + "-adhoc",
                       "date": draw.day().isoformat(), "amount": draw.decimal(2000, 2),
                       "currency": draw.rng.choice(CURRENCIES), "description": draw.pick(TASKS),
                       "billable": True, "source_id": f"exp-{number}"}
        elif event_type == "payment.received":
            payload = {"amount": draw.decimal(50000, 2), "currency": draw.rng.choice(CURRENCIES),
                       "date": draw.day().isoformat(), "reference": f"NW-2026-{number:05d}",
                       "payer": draw.pick(CLIENTS).replace("-", " ").title() + " Inc."}
            if draw.rng.random() < 0.5:
                payload.update(client=draw.pick(CLIENTS), source_id=f"bank:{number}")
        else:
            payload = {"invoice": f"{draw.pick(CLIENTS)}/retainer/2026-{number % 12 + 1:02d}",
                       "by": draw.pick(PEOPLE)}
            if draw.rng.random() < 0.3:
                payload["comment"] = "Looks right."
        made.append({"id": f"{event_type}:{seed}:{number}", "type": event_type,
                     "at": at if event_type == "time.approved" else draw.at(), "payload": payload})
    return made


def schemas_by_id() -> dict[str, Any]:
    found = {}
    for file in SCHEMAS.rglob("*.json"):
        contents = json.loads(file.read_text(encoding="utf-8"))
        if "$id" in contents:
            found[contents["$id"]] = contents
    return found


def validators(event_type: str) -> dict[str, Callable[[Any], Any]]:
    schema = json.loads((SCHEMAS / "events" / "v1" / f"{event_type}.json").read_text(encoding="utf-8"))
    by_id = schemas_by_id()
    return {
        "jsonschema": Draft202012Validator(schema, registry=schema_registry()).is_valid,
        "fastjsonschema": fastjsonschema.compile(
            schema, handlers={"https": lambda uri: by_id[uri.split("#")[0]]}),
        "event_check": event_check.compile_validator(schema, by_id.__getitem__),
    }


def per_event(check: Callable[[Any], Any], stream: list[dict[str, Any]], passes: int) -> float:
    """Best CPU microseconds per event over `passes` passes through `stream`."""
    best = float("inf")
    for _ in range(passes):
        event_check.clear_pattern_memos()
        started = time.process_time()
        for event in stream:
            check(event)
        best = min(best, time.process_time() - started)
    return best / len(stream) * 1e6


def rows(count: int, passes: int) -> Iterator[tuple[str, float, float, float, float]]:
    for index, event_type in enumerate(TYPES):
        checks = validators(event_type)
        stream = events(event_type, count, seed=index)
        fresh = events(event_type, count, seed=index, fresh=True)
        for event in stream[:200] + fresh[:200]:  # every stream is valid for every validator
            assert checks["jsonschema"](event) is True
            checks["fastjsonschema"](event)  # raises when invalid
        assert all(checks["event_check"](event) is None for event in stream + fresh)
        small = stream[: max(count // 10, 200)]
        yield (event_type,
               per_event(checks["jsonschema"], small, passes),
               per_event(checks["fastjsonschema"], stream, passes),
               per_event(checks["event_check"], stream, passes),
               per_event(checks["event_check"], fresh, passes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events per stream")
    parser.add_argument("--passes", type=int, default=5, help="passes; the best one counts")
    args = parser.parse_args()
    print(f"event validation: CPU microseconds per event, best of {args.passes} passes over "
          f"{args.events} distinct events (jsonschema: {max(args.events // 10, 200)})")
    header = ("event type", "jsonschema", "fastjsonschema", "event_check", "all strings new")
    print(f"{header[0]:<20}{header[1]:>12}{header[2]:>16}{header[3]:>13}{header[4]:>17}")
    for name, slow, fast, ours, cold in rows(args.events, args.passes):
        print(f"{name:<20}{slow:>12.2f}{fast:>16.2f}{ours:>13.2f}{cold:>17.2f}")


if __name__ == "__main__":
    main()
