"""billflow's core throughput benchmark: a synthetic agency's events through simulate's core.

    python bench/core_throughput.py [--events 1000000] [--clients 500] [--months 24]
                                    [--workdir DIR] [--profile] [--top 15]

1. prepare (untimed): write the synthetic agency's rule folder (`synthetic.py`) and its
   events, one JSON object a line, to a work folder. The approvals and payments in it are
   the people's and clients' reactions (`reactions.py`) to what the engine decided, so this
   step runs the engine once over the stream as it is written (the reference pass).
2. floor (timed): `json.loads` of every line of the file.
3. parse (timed): `parse_event_line` of every line (JSON, schema validation, typed values),
   without the engine: where the parse ends and the engine begins.
4. core (timed): `replay(rules, read_events(file), ..., presorted=True, keep_actions=False)`,
   the same path as `billflow simulate` (it reads, validates and parses every line, then
   ticks the clock and applies the event), with the RSS sampled at each quarter of the events.

Each step runs in a fresh process, one after the other, so that one's memory and warm
caches do not colour the next. The table goes to stdout; the figures to
`bench/results/core_throughput.json`. `--profile` runs only steps 1 and 4, the latter
under cProfile, and prints the functions that cost the most.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
for entry in (str(BENCH), str(REPO_ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from footprint import state_footprint  # noqa: E402
from machine import cpu_model  # noqa: E402
from synthetic import MONTHS, SEED, START, EventStream, SyntheticAgency  # noqa: E402

RESULTS = BENCH / "results"
TARGET = 100_000  # events per second, on one core
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


# -- measuring ----------------------------------------------------------------------------


def rss_bytes() -> int:
    """The process's resident set size now."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


def max_rss_bytes() -> int:
    """The process's peak resident set size so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run `function(*args)` in a new interpreter and return its result."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def code_fingerprint() -> str:
    """A short hash of the engine, the schemas and the generator: prepared events are
    reused only with the code that decided their reactions."""
    digest = hashlib.sha256()
    paths = [path for folder, pattern in (("engine", "*.py"), ("schemas", "*.json"))
             for path in sorted((REPO_ROOT / folder).rglob(pattern))]
    for path in paths + [BENCH / "synthetic.py", BENCH / "reactions.py"]:
        digest.update(str(path.relative_to(REPO_ROOT)).encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git(*arguments: str) -> str | None:
    try:
        found = subprocess.run(["git", *arguments], cwd=REPO_ROOT, capture_output=True,
                               text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip()


def code_identity() -> dict[str, Any]:
    """Which code is measured: the commit, whether the engine or schemas differ from it,
    and the fingerprint of the files as they are now."""
    changes = _git("status", "--porcelain", "--", "engine", "schemas")
    return {"commit": _git("rev-parse", "--short", "HEAD") or None,
            "uncommitted_engine_changes": bool(changes) if changes is not None else None,
            "fingerprint": code_fingerprint()}


# -- the steps (each runs in its own process) ---------------------------------------------


def prepare(clients: int, events: int, months: int, workdir: str) -> dict[str, Any]:
    """Write the rules and the events file; run the reference pass; describe what was made."""
    from engine.core.replay import replay
    from engine.errors import EventError
    from engine.model.events import parse_event_line
    from engine.ruleset.loader import load_ruleset

    began = time.perf_counter()
    agency = SyntheticAgency(clients, events, months=months)
    rules_dir = agency.write_rules(Path(workdir) / "rules")
    rules = load_ruleset(rules_dir)
    stream = EventStream(agency)
    path = Path(workdir) / "events.ndjson"
    types: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    samples: dict[str, str] = {}
    written = [0]

    def lines(handle: Any) -> Any:
        for number, event in enumerate(stream, start=1):
            text = json.dumps(event, ensure_ascii=False) + "\n"
            handle.write(text)
            written[0] += len(text.encode("utf-8"))
            types[event["type"]] += 1
            samples.setdefault(event["type"], text)
            try:
                yield parse_event_line(text, path.name, number)
            except EventError as exc:
                yield exc

    def react(action: Any) -> None:
        actions[action.type] += 1
        stream.on_action(action)

    with open(path, "w", encoding="utf-8") as handle:
        result = replay(rules, lines(handle), agency.start, agency.end, presorted=True,
                        keep_actions=False, on_action=react)
    return {
        "events": stream.yielded, "bytes": written[0], "event_types": dict(types.most_common()),
        "actions": dict(actions.most_common()), "errors": len(result.errors),
        "first_errors": [str(error) for error in result.errors[:5]],
        "events_after_end": result.events_after_end, "samples": samples,
        "start": agency.start.isoformat(), "end": agency.end.isoformat(),
        "rules_version": rules.version, "seconds": time.perf_counter() - began,
        "engagements": Counter(e.model + (f"/{e.cadence}" if e.cadence else "")
                               for c in agency.clients for e in c.engagements),
        "currencies": Counter(c.currency for c in agency.clients),
        "people": len(agency.people),
    }


def measure_floor(path: str) -> dict[str, Any]:
    """Time `json.loads` of every line: the least any validated intake could cost."""
    loads = json.loads
    count = 0
    began, cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8") as handle:
        for text in handle:
            loads(text)
            count += 1
    return {"events": count, "seconds": time.perf_counter() - began,
            "cpu_seconds": time.process_time() - cpu}


def measure_parse(path: str, samples: dict[str, str]) -> dict[str, Any]:
    """Time `parse_event_line` of every line: JSON, schema validation, typed values."""
    from engine.model.events import parse_event_line

    for text in samples.values():  # compile each type's validator before the clock starts
        parse_event_line(text, "warm-up", 1)
    count = 0
    began, cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            parse_event_line(text, "events.ndjson", number)
            count += 1
    return {"events": count, "seconds": time.perf_counter() - began,
            "cpu_seconds": time.process_time() - cpu}


def measure_core(rules_dir: str, path: str, start: str, end: str, expected: int,
                 samples: dict[str, str], profile_to: str | None = None) -> dict[str, Any]:
    """Time simulate's core over the file, sampling the RSS at each quarter of the events."""
    code = code_identity()  # the files about to be imported
    from engine.core.replay import PROGRESS_EVERY, read_events, replay
    from engine.model.events import parse_event_line
    from engine.ruleset.loader import load_ruleset

    rules = load_ruleset(rules_dir)
    for text in samples.values():
        parse_event_line(text, "warm-up", 1)
    # replay reports progress every PROGRESS_EVERY events and at the end of the stream
    every = PROGRESS_EVERY
    marks = {max(every, round(expected * quarter / 4 / every) * every): quarter
             for quarter in (1, 2, 3)}
    marks[expected] = 4
    quarters: list[dict[str, Any]] = []
    actions: Counter[str] = Counter()
    rss_before, max_rss_before = rss_bytes(), max_rss_bytes()
    clock = [0.0, 0.0]

    def progress(count: int) -> None:
        quarter = marks.get(count)
        if quarter is not None:
            quarters.append({"quarter": quarter, "events": count, "rss": rss_bytes(),
                             "max_rss": max_rss_bytes(),
                             "seconds": time.perf_counter() - clock[0],
                             "cpu_seconds": time.process_time() - clock[1]})

    def count_action(action: Any) -> None:
        actions[action.type] += 1

    def run() -> Any:
        return replay(rules, read_events(path), date.fromisoformat(start),
                      date.fromisoformat(end), on_progress=progress, presorted=True,
                      keep_actions=False, on_action=count_action)

    profiler = None
    if profile_to is not None:
        import cProfile

        profiler = cProfile.Profile()
    clock[:] = time.perf_counter(), time.process_time()
    result = profiler.runcall(run) if profiler is not None else run()
    seconds, cpu_seconds = time.perf_counter() - clock[0], time.process_time() - clock[1]
    if profiler is not None:
        profiler.dump_stats(profile_to)
    state = result.state
    rss_after, max_rss_after = rss_bytes(), max_rss_bytes()
    footprint = state_footprint(state, rules)  # after the clock stopped: untimed
    return {
        "events": result.events_applied + len(result.errors) + result.events_after_end,
        "applied": result.events_applied, "errors": len(result.errors),
        "first_errors": [str(error) for error in result.errors[:5]],
        "seconds": seconds, "cpu_seconds": cpu_seconds, "actions": dict(actions.most_common()),
        "rss_before": rss_before, "max_rss_before": max_rss_before, "quarters": quarters,
        "rss_after": rss_after, "max_rss_after": max_rss_after, "code": code,
        "footprint": footprint,
        "books_closed_through": state.books_closed_through and state.books_closed_through.isoformat(),
        "state": {
            "invoices": len(state.invoices),
            "open_invoices": sum(1 for invoice in state.invoices.values() if invoice.is_open),
            "seen_event_ids": len(state.seen_events) + sum(
                len(ids) for ids in state.seen_by_month.values()),
            "billed_entry_ids": len(state.billed_entries),
            "supporting_items": sum(len(items) for items in state.supporting.values()),
            "unbilled_pool_items": sum(len(items) for items in state.pool.values()),
            "retainer_entries_indexed": len(state.retainer_index),
            "live_timers": len(state.timers),
        },
    }


# -- reporting ----------------------------------------------------------------------------


def _rate(step: dict[str, Any], clock: str = "cpu_seconds") -> float:
    """Events per second of a step, by CPU time (default) or by wall-clock time."""
    return step["events"] / step[clock] if step[clock] else 0.0


def _mib(value: int) -> str:
    return f"{value / MIB:,.1f}"


def report(args: argparse.Namespace, prepared: dict[str, Any], floor: dict[str, Any] | None,
           parse: dict[str, Any] | None, core: dict[str, Any]) -> dict[str, Any]:
    """Print the table; return the figures."""
    floor_rate = _rate(floor) if floor else None
    core_rate = _rate(core)
    lines = [
        f"billflow core throughput: {prepared['events']:,} events, {args.clients} clients, "
        f"{prepared['people']} people, {prepared['start']} .. {prepared['end']}",
        f"events file: {prepared['bytes'] / MIB:,.0f} MiB, "
        f"{prepared['bytes'] / prepared['events']:.0f} bytes per event on average",
        f"code: commit {core['code']['commit']}"
        + (" with uncommitted engine changes" if core["code"]["uncommitted_engine_changes"]
           else "") + f", fingerprint {core['code']['fingerprint']}",
        "",
        f"{'step':<42}{'CPU s':>8}{'wall s':>8}{'events/s':>11}{'of floor':>9}"
        f"{'(wall)':>11}",
    ]
    busy = False
    for label, step in (("json.loads of each line (floor)", floor),
                        ("parse_event_line (JSON + schema + typed)", parse),
                        ("core: replay (parse + tick + apply)", core)):
        if step is None:
            continue
        busy = busy or step["cpu_seconds"] < 0.9 * step["seconds"]
        share = f"{_rate(step) / floor_rate:.2f}" if floor_rate else "-"
        lines.append(f"{label:<42}{step['cpu_seconds']:>8.2f}{step['seconds']:>8.2f}"
                     f"{_rate(step):>11,.0f}{share:>9}{_rate(step, 'seconds'):>11,.0f}")
    lines.append(f"{'target (one core)':<58}{TARGET:>11,}"
                 + (f"{TARGET / floor_rate:>9.2f}" if floor_rate else ""))
    lines.append("events/s are by CPU time of the one process (wall-clock rates in brackets)")
    if busy:
        lines.append("note: the machine was busy (CPU time well below wall time); "
                     "read the CPU-time rates")
    if args.profile:
        lines.append("(the core ran under cProfile: its rate is not comparable)")
    lines += ["", f"{'memory (RSS, MiB)':<28}{'events':>12}{'RSS':>10}{'peak':>10}"
                  f"{'CPU s':>9}",
              f"{'before the replay':<28}{0:>12,}{_mib(core['rss_before']):>10}"
              f"{_mib(core['max_rss_before']):>10}{0:>9.1f}"]
    for sample in core["quarters"]:
        lines.append(f"{str(sample['quarter'] * 25) + '% of the events':<28}"
                     f"{sample['events']:>12,}{_mib(sample['rss']):>10}"
                     f"{_mib(sample['max_rss']):>10}{sample['cpu_seconds']:>9.1f}")
    lines.append(f"{'after the last tick':<28}{'':>12}{_mib(core['rss_after']):>10}"
                 f"{_mib(core['max_rss_after']):>10}{core['cpu_seconds']:>9.1f}")
    growth = None
    if len(core["quarters"]) == 4:
        first, last = core["quarters"][0], core["quarters"][3]
        growth = (last["rss"] - first["rss"]) / max(1, last["events"] - first["events"])
        lines.append(f"RSS growth from 25% to 100%: {growth:,.0f} bytes per event; "
                     f"peak over the start: {_mib(core['max_rss_after'] - core['rss_before'])} MiB")
    groups = core["footprint"]["groups"]
    state = core["state"]
    closed = core["books_closed_through"]
    per = {"invoices": (state["invoices"], "invoice")}
    if closed is None:
        per["remembered ids"] = (core["applied"], "event applied")
    lines += ["", f"{'engine state at the end':<28}{'MiB':>10}  what it grows with"]
    for group, size in groups.items():
        count, unit = per.get(group, (0, ""))
        grows = (f"{size / count:,.1f} bytes per {unit}" if count else
                 f"the months still open (books closed through {closed})"
                 if group == "remembered ids" else "bounded by what is in flight")
        lines.append(f"{group:<28}{_mib(size):>10}  {grows}")
    lines += ["", "engine state at the end: " + ", ".join(
        f"{key.replace('_', ' ')} {value:,}" for key, value in state.items())]
    lines += ["", f"{'actions decided':<24}{'count':>10}"]
    lines += [f"{kind:<24}{count:>10,}" for kind, count in core["actions"].items()]
    lines.append(f"{'total':<24}{sum(core['actions'].values()):>10,}")
    same = core["actions"] == prepared["actions"] and core["errors"] == prepared["errors"]
    lines.append(f"same actions as the reference pass: {'yes' if same else 'NO'}; "
                 f"rejected events: {core['errors']}")
    lines += [f"  {text}" for text in core["first_errors"]]
    print("\n".join(lines))
    return {
        "benchmark": "core_throughput",
        "parameters": {"events": args.events, "clients": args.clients, "months": args.months,
                       "seed": SEED, "start": prepared["start"], "end": prepared["end"]},
        "code": core["code"],
        "machine": {"python": platform.python_version(), "implementation":
                    platform.python_implementation(), "cpu": cpu_model(),
                    "cpus": os.cpu_count()},
        "workload": {"events": prepared["events"], "bytes": prepared["bytes"],
                     "bytes_per_event": round(prepared["bytes"] / prepared["events"], 1),
                     "event_types": prepared["event_types"], "people": prepared["people"],
                     "engagements": prepared["engagements"],
                     "currencies": prepared["currencies"],
                     "rules_version": prepared["rules_version"]},
        "rates": "events_per_second is by the process's CPU time; "
                 "events_per_second_wall by wall-clock time",
        "floor": floor and {**floor, "events_per_second": round(floor_rate or 0),
                            "events_per_second_wall": round(_rate(floor, "seconds"))},
        "parse": parse and {**parse, "events_per_second": round(_rate(parse)),
                            "events_per_second_wall": round(_rate(parse, "seconds"))},
        "core": {**{k: v for k, v in core.items() if k not in ("first_errors", "code")},
                 "events_per_second": round(core_rate),
                 "events_per_second_wall": round(_rate(core, "seconds")),
                 "of_floor": round(core_rate / floor_rate, 3) if floor_rate else None,
                 "rss_growth_bytes_per_event_after_25pct": round(growth) if growth else None,
                 "same_actions_as_reference_pass": same},
        "target_events_per_second": TARGET,
        "meets_target": core_rate >= TARGET,
    }


def print_profile(path: str, top: int) -> None:
    import pstats

    for order, title in (("cumulative", "cumulative time"), ("tottime", "own time")):
        print(f"\n-- top {top} functions by {title} --")
        stats = pstats.Stats(path, stream=sys.stdout)
        stats.strip_dirs().sort_stats(order).print_stats(top)


# -- the command --------------------------------------------------------------------------


def prepared_in(workdir: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """Reuse an earlier run's files in `workdir` if they were made with these arguments."""
    manifest = workdir / "manifest.json"
    if not manifest.is_file():
        return None
    found = json.loads(manifest.read_text(encoding="utf-8"))
    if found.get("arguments") != arguments(args) or not (workdir / "events.ndjson").is_file():
        return None
    return found["prepared"]


def arguments(args: argparse.Namespace) -> dict[str, Any]:
    """What the prepared files depend on."""
    return {"events": args.events, "clients": args.clients, "months": args.months,
            "seed": SEED, "start": START.isoformat(), "code": code_fingerprint()}


def run(args: argparse.Namespace, workdir: Path) -> None:
    prepared = prepared_in(workdir, args) if args.workdir else None
    if prepared is None:
        say(f"preparing {args.events:,} events for {args.clients} clients (untimed) ...")
        prepared = in_fresh_process(prepare, args.clients, args.events, args.months,
                                    str(workdir))
        (workdir / "manifest.json").write_text(json.dumps({
            "arguments": arguments(args), "prepared": prepared}, indent=1), encoding="utf-8")
    if prepared["errors"]:
        say(f"warning: the engine rejected {prepared['errors']} generated events, e.g. "
            + "; ".join(prepared["first_errors"]))
    events_path = str(workdir / "events.ndjson")
    floor = parse = None
    if not args.profile:
        say("floor: json.loads of every line ...")
        floor = in_fresh_process(measure_floor, events_path)
        say("parse: parse_event_line of every line ...")
        parse = in_fresh_process(measure_parse, events_path, prepared["samples"])
    profile_to = str(workdir / "core_profile.pstats") if args.profile else None
    say("core: replay over the file" + (" under cProfile" if args.profile else "") + " ...")
    core = in_fresh_process(measure_core, str(workdir / "rules"), events_path,
                            prepared["start"], prepared["end"], prepared["events"],
                            prepared["samples"], profile_to)
    figures = report(args, prepared, floor, parse, core)
    if profile_to is not None:
        print_profile(profile_to, args.top)
        shutil.copyfile(profile_to, RESULTS / "core_profile.pstats")
        return
    target = RESULTS / "core_throughput.json"
    target.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    say(f"figures written to {target.relative_to(REPO_ROOT)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the stream")
    parser.add_argument("--clients", type=int, default=500, help="clients of the agency")
    parser.add_argument("--months", type=int, default=MONTHS, help="months the events span")
    parser.add_argument("--workdir", help="keep the rules and events here (and reuse them "
                                          "when the arguments match); default: a temp folder")
    parser.add_argument("--profile", action="store_true",
                        help="run the core under cProfile and print the costliest functions")
    parser.add_argument("--top", type=int, default=15, help="functions shown by --profile")
    args = parser.parse_args(argv)
    if args.events < 1 or args.clients < 1 or args.months < 1:
        parser.error("--events, --clients and --months must be positive")
    RESULTS.mkdir(exist_ok=True)
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        run(args, workdir)
        return
    with tempfile.TemporaryDirectory(prefix="billflow-bench-") as temp:
        run(args, Path(temp))


if __name__ == "__main__":
    main()
