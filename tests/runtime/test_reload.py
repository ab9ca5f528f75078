"""Hot reload: a broken rule file degrades health but not billing; the fix takes over.

An in-process daemon watches a copy of a rule folder and serves HTTP on a free loopback
port. A typo in a key makes the folder invalid: `/healthz` answers 503 `degraded` with the
errors as `path:line:col`, `billflow status` shows them, and the last good rules keep
deciding every event that arrives meanwhile. Fixing the file (with a real change) makes the
new version active: `rules.changed` is logged with it, `billflow_rules_info` names it, and
the next decisions carry it. No event sent during the broken stretch is left undecided.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from engine.runtime.daemon import Daemon
from tests.support import http_calls, waiting
from tests.support.daemon import base_url, copy_rules, running_daemon

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reload"
TOKEN = "reload-test-token"
TIMEOUT = 20.0

wait_for = partial(waiting.wait_for, timeout=TIMEOUT)


def get(url: str) -> tuple[int, str]:
    reply = http_calls.call(url)
    return reply.status, reply.text


def post_events(base: str, *events: dict) -> tuple[int, dict]:
    reply = http_calls.post_events(base, *events, token=TOKEN)
    return reply.status, reply.json()


def milestone(name: str) -> dict:
    return {"id": f"done-{name}", "type": "milestone.completed",
            "at": "2026-11-20T12:00:00-05:00",
            "payload": {"client": "acme", "engagement": "site", "milestone": name}}


def rules_info(metrics: str) -> set[str]:
    prefix = 'billflow_rules_info{version="'
    return {line[len(prefix):].split('"', 1)[0] for line in metrics.splitlines()
            if line.startswith(prefix) and line.endswith(" 1")}


def metric(metrics: str, name: str) -> float:
    [value] = [line.split()[-1] for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(value)


@pytest.fixture()
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    rules = copy_rules(FIXTURE, tmp_path)
    with running_daemon(rules, tmp_path / "billflow.db", token=TOKEN, watch=True) as running:
        yield running


def issued(daemon: Daemon, name: str) -> dict | None:
    return daemon.store.action(f"invoice.issued:acme/site/{name}")


def status(db: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", "status", "--db", db],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=60)


def test_a_broken_rule_file_keeps_the_last_good_rules_until_it_is_fixed(daemon: Daemon) -> None:
    base = base_url(daemon)
    folder = Path(daemon.options.rules)
    clients = folder / "clients.yaml"
    good = clients.read_text(encoding="utf-8")
    first = daemon.keeper.active.version

    assert post_events(base, milestone("m1")) == (202, {"accepted": 1, "duplicates": 0,
                                                        "errors": []})
    assert wait_for(lambda: issued(daemon, "m1"), "m1 decided")["rules_version"] == first
    assert get(f"{base}/healthz")[0] == 200

    # A typo'd key: the folder no longer loads.
    clients.write_text(good.replace("      fee:", "      feee:"), encoding="utf-8")
    code, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(get(f"{base}/healthz")),
                          "/healthz to report the broken rules")
    health = json.loads(body)
    assert health["status"] == "degraded"
    assert health["rules_version"] == first  # the last good set is still in force
    assert any(e.startswith(f"{clients}:10:7:") and "unknown key 'feee'" in e
               for e in health["errors"]), health["errors"]
    shown = status(daemon.options.db)
    assert shown.returncode == 0, shown.stderr
    assert f"rules      {first} (degraded)" in shown.stdout
    assert f"! {clients}:10:7: spec.engagements[0]: unknown key 'feee'" in shown.stdout
    metrics = get(f"{base}/metrics")[1]
    assert metric(metrics, "billflow_rules_degraded") == 1
    assert rules_info(metrics) == {first}

    # Events keep being decided, with the last good rules.
    assert post_events(base, milestone("m2"), milestone("m3"))[0] == 202
    for name in ("m2", "m3"):
        decided = wait_for(lambda: issued(daemon, name), f"{name} decided while degraded")
        assert decided["rules_version"] == first
        assert decided["payload"]["invoice"]["total"] == {"m2": "2000.00", "m3": "3000.00"}[name]

    # The fix, with a real change (a higher fee), becomes the rules in force.
    clients.write_text(good.replace('fee: "10000.00"', 'fee: "20000.00"'), encoding="utf-8")
    wait_for(lambda: get(f"{base}/healthz")[0] == 200, "/healthz to recover")
    second = daemon.keeper.active.version
    assert second != first
    health = json.loads(get(f"{base}/healthz")[1])
    assert health == {**health, "status": "ok", "rules_version": second}
    assert "errors" not in health
    metrics = get(f"{base}/metrics")[1]
    assert rules_info(metrics) == {second}
    assert metric(metrics, "billflow_rules_degraded") == 0

    assert post_events(base, milestone("m4"))[0] == 202
    decided = wait_for(lambda: issued(daemon, "m4"), "m4 decided with the new rules")
    assert decided["rules_version"] == second
    assert decided["payload"]["invoice"]["total"] == "8000.00"  # 40% of the new fee

    # The switch is in the event log, with its version and the one it replaced.
    changes = [json.loads(event.body) for event in daemon.store.events_after(0, 1000)
               if event.type == "rules.changed"]
    assert [c["payload"] for c in changes] == [{"version": second, "previous": first}]
    # The rules history keeps every load: good, broken, good again.
    history = daemon.store.rules_history(10)
    assert [(r.version or None, r.ok) for r in reversed(history)][-3:] == [
        (first, True), (None, False), (second, True)]

    # Nothing was dropped: every event decided, every milestone invoiced once.
    counts = daemon.store.counts()
    assert counts.events_undecided == 0 and counts.events_rejected == 0
    assert counts.actions["invoice.issued"] == 4
    shown = status(daemon.options.db)
    assert f"rules      {second} (ok)" in shown.stdout
    assert "0 waiting" in shown.stdout


def test_a_rule_file_that_is_not_yaml_is_reported_with_its_place(daemon: Daemon) -> None:
    base = base_url(daemon)
    clients = Path(daemon.options.rules) / "clients.yaml"
    good = clients.read_text(encoding="utf-8")
    clients.write_text(good.replace("  engagements:", "  engagements: [", 1), encoding="utf-8")
    code, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(get(f"{base}/healthz")),
                          "/healthz to report the unreadable file")
    errors = json.loads(body)["errors"]
    assert errors and all(e.startswith(f"{clients}:") for e in errors), errors
    assert post_events(base, milestone("m1"))[0] == 202
    wait_for(lambda: issued(daemon, "m1"), "m1 decided with the last good rules")
    clients.write_text(good, encoding="utf-8")
    wait_for(lambda: get(f"{base}/healthz")[0] == 200, "/healthz to recover")
