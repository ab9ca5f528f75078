"""`billflow report --db`: the collections reports read the daemon's store."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from engine.cli import cli
from engine.reports.aging import aging_report
from engine.reports.ledger import build_ledger
from engine.runtime.clock import ManualClock
from engine.runtime.daemon import Daemon, DaemonOptions


def _downtime_helpers():
    """Borrow the downtime test's small agency and its wait-for-the-decider helper."""
    path = Path(__file__).with_name("test_downtime.py")
    spec = importlib.util.spec_from_file_location("billflow_test_downtime", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.RULES, module.settle


RULES, settle = _downtime_helpers()


def test_aging_over_the_store_matches_aging_over_the_same_decisions(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    clock = ManualClock(datetime(2026, 6, 20, 12, tzinfo=timezone.utc))
    daemon = Daemon(DaemonOptions(rules=str(RULES), db=str(db), http=None, watch=False,
                                  go_live=date(2026, 3, 1)), clock=clock)
    daemon.start()
    try:
        settle(daemon)
        actions = list(daemon.store.actions())
    finally:
        daemon.stop()
    assert any(a["type"] == "invoice.issued" for a in actions)

    result = CliRunner().invoke(cli, ["report", "aging", "--rules", str(RULES), "--db", str(db),
                                      "--as-of", "2026-06-20", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    expected = aging_report(build_ledger(actions), date(2026, 6, 20))
    assert [row["total"] for row in report["totals"]] == [
        f"{row.total}" for row in expected.totals]
    assert sum(row["invoices"] for row in report["totals"]) > 0


def test_report_needs_exactly_one_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "aging", "--rules", str(RULES)])
    assert result.exit_code != 0
