"""CSV time exports (Harvest, Toggl) into events, and `billflow ingest --from ...-csv`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from connectors.imports.command import import_export
from engine.cli import cli
from engine.model.events import parse_event

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
HARVEST_CSV = FIXTURES / "harvest" / "detailed_time_report.csv"
TOGGL_CSV = FIXTURES / "toggl" / "detailed_report.csv"
AT = "2026-03-10T14:00:00+00:00"


def harvest_import(rules, text=None):
    return import_export("harvest-csv", text or HARVEST_CSV.read_text(), "report.csv", rules,
                         at=AT, map_file=str(FIXTURES / "harvest" / "csv-map.yaml"))


def test_harvest_rows_become_time_approved_and_bad_rows_are_reported(rules):
    result = harvest_import(rules)
    payloads = [e["payload"] for e in result.events]
    assert [(p["person"], p["role"], p["project"], p["date"], p["hours"]) for p in payloads] == [
        ("leo", "designer", "atlas-outfitters-adhoc", "2026-03-02", "1.5"),
        ("nora", "strategist", "gotham-health-campaigns", "2026-03-03", "2.25"),
        ("nora", "strategist", "gotham-health-campaigns", "2026-03-03", "1.333333"),
        ("leo", "designer", "atlas-outfitters-adhoc", "2026-03-05", "0.75"),
        ("leo", "designer", "atlas-outfitters-adhoc", "2026-03-05", "0.75"),
    ]
    assert payloads[0]["notes"] == "Hero banner, second round"
    assert payloads[1]["notes"] == "Kick-off\nnotes on two lines"
    assert result.errors == (
        "report.csv:6: Harvest project INT / Internal is not in map.projects",
        "report.csv:8: hours 'two' are not a number",
    )
    assert result.skipped == ("report.csv:7: skipped: not approved in Harvest (Approved? is No)",)
    for event in result.events:
        parse_event(event, "test")


def test_ids_come_from_row_content_so_a_reimport_repeats_them(rules):
    first, again = harvest_import(rules), harvest_import(rules)
    ids = [e["id"] for e in first.events]
    assert ids == [e["id"] for e in again.events]
    assert all(i.startswith("harvest-csv:") for i in ids)
    # Two identical rows are two entries of work, not a repeat.
    assert ids[-1] == ids[-2] + "-2"
    assert all(e["payload"]["source_id"] == e["id"] for e in first.events)


def test_a_file_that_is_not_a_harvest_export_says_so(rules):
    result = harvest_import(rules, "User,Project,Duration\nLeo,X,01:00:00\n")
    assert result.errors == ("report.csv: line 1: not the expected export: no column Date, "
                             "Hours, First Name, Last Name",)


def test_toggl_rows_map_by_name_and_email(rules):
    result = import_export("toggl-csv", TOGGL_CSV.read_text(), "toggl.csv", rules, at=AT,
                           map_file=str(FIXTURES / "toggl" / "csv-map.yaml"))
    assert [(e["payload"]["person"], e["payload"]["hours"], e["payload"]["billable"])
            for e in result.events] == [("leo", "1.5", True), ("nora", "1.000277", True),
                                        ("leo", "0.75", False)]
    assert result.errors == (
        "toggl.csv:4: Toggl user Sam Somebody <sam.s@freelance.example> is not in map.people, "
        "and no Agency person has that e-mail or name",)


def test_billflow_ingest_from_harvest_csv_keeps_good_rows_and_exits_1(tmp_path):
    db = tmp_path / "store.db"
    args = ["ingest", "--from", "harvest-csv", str(HARVEST_CSV), "--rules", str(NORTHWIND),
            "--map", str(FIXTURES / "harvest" / "csv-map.yaml"), "--db", str(db)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 1, first.output
    assert f"{HARVEST_CSV}:6: Harvest project INT / Internal is not in map.projects" in first.stderr
    assert f"{HARVEST_CSV}:7: skipped: not approved" in first.stderr
    assert f"{HARVEST_CSV}: 5 events stored, 0 already known, 2 rejected" in first.stdout
    again = CliRunner().invoke(cli, args)
    assert f"{HARVEST_CSV}: 0 events stored, 5 already known, 2 rejected" in again.stdout


def test_billflow_ingest_from_toggl_csv(tmp_path):
    result = CliRunner().invoke(cli, [
        "ingest", "--from", "toggl-csv", str(TOGGL_CSV), "--rules", str(NORTHWIND),
        "--map", str(FIXTURES / "toggl" / "csv-map.yaml"), "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 1
    assert f"{TOGGL_CSV}: 3 events stored, 0 already known, 1 rejected" in result.stdout
