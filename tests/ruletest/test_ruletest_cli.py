"""`billflow test`: scenario files beside the rules, run through the core, diffs on failure."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE_RULES = REPO / "examples" / "ops-repo" / "rules"


def billflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture
def rules_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Return a function that lays out rules/ with the given scenario fixtures in rules/tests/."""
    monkeypatch.chdir(tmp_path)

    def layout(*names: str) -> str:
        shutil.copytree(TEMPLATE_RULES, tmp_path / "rules",
                        ignore=shutil.ignore_patterns("tests"))
        (tmp_path / "rules" / "tests").mkdir()
        for name in names:
            shutil.copy(FIXTURES / name, tmp_path / "rules" / "tests" / name)
        return "rules"

    return layout


def test_a_passing_file_exits_0(rules_with, capsys):
    code, out, err = billflow(capsys, "test", rules_with("passing.yaml"))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "rules/tests/passing.yaml",
        "  ok    retainer issued on the 1st",
        "  ok    nothing else happens in the first two days",
        "2 tests in 1 file: 2 passed, 0 failed",
    ]


def test_a_failing_file_shows_a_diff(rules_with, capsys, snapshot):
    code, out, _ = billflow(capsys, "test", rules_with("failing.yaml"))
    assert code == 1
    assert 'invoice.total: expected "12000.00", got "13065.00"' in out
    assert out == snapshot


def test_an_empty_file_fails(rules_with, capsys, snapshot):
    code, out, _ = billflow(capsys, "test", rules_with("empty.yaml", "passing.yaml"))
    assert code == 1
    assert "  ERROR rules/tests/empty.yaml:1:1: this file holds no tests" in out
    assert out == snapshot


def test_an_invalid_file_names_each_problem_at_its_line(rules_with, capsys, snapshot):
    code, out, _ = billflow(capsys, "test", rules_with("invalid.yaml"))
    assert code == 1
    errors = [line.strip() for line in out.splitlines() if "ERROR" in line]
    assert any(":4:5: " in line and "untill" in line for line in errors), errors
    assert any(":6:9: " in line and "did you mean 'invoice.issued'" in line for line in errors), errors
    assert any(":9:" in line and "hours: expected a string" in line for line in errors), errors
    assert out == snapshot


def test_no_scenario_files_is_a_failure(rules_with, capsys):
    code, out, _ = billflow(capsys, "test", rules_with())
    assert code == 1
    assert "no scenario files in rules/tests/" in out


def test_run_selects_tests_by_name(rules_with, capsys):
    code, out, _ = billflow(capsys, "test", rules_with("passing.yaml", "failing.yaml"),
                            "--run", "^retainer")
    assert code == 0
    assert "rules/tests/failing.yaml" not in out
    assert out.splitlines()[-1] == "1 test in 1 file: 1 passed, 0 failed"


def test_run_matching_nothing_fails(rules_with, capsys):
    code, out, _ = billflow(capsys, "test", rules_with("passing.yaml"), "--run", "no such test")
    assert code == 1
    assert "error: no test name matches --run 'no such test'" in out


def test_a_bad_run_pattern_is_a_usage_error(rules_with, capsys):
    code, _, err = billflow(capsys, "test", rules_with("passing.yaml"), "--run", "(")
    assert code == 2
    assert "--run '(' is not a regular expression" in err


def test_junit_xml_is_well_formed_with_failures(rules_with, capsys, tmp_path):
    code, _, _ = billflow(capsys, "test", rules_with("passing.yaml", "failing.yaml", "empty.yaml"),
                          "--junit-xml", "results.xml")
    assert code == 1
    root = ET.parse(tmp_path / "results.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "2", "1")
    suites = {suite.get("name"): suite for suite in root}
    assert set(suites) == {"rules/tests/empty.yaml", "rules/tests/failing.yaml",
                           "rules/tests/passing.yaml"}
    failing = suites["rules/tests/failing.yaml"]
    failures = [case.find("failure") for case in failing.iter("testcase")]
    assert all(f is not None for f in failures)
    assert "--- expected" in failures[0].text and "+++ got" in failures[0].text
    assert suites["rules/tests/empty.yaml"].find("testcase/error") is not None
    assert all(case.find("failure") is None
               for case in suites["rules/tests/passing.yaml"].iter("testcase"))


def test_the_template_scenarios_pass(monkeypatch, capsys):
    monkeypatch.chdir(REPO / "examples" / "ops-repo")
    code, out, _ = billflow(capsys, "test", "rules")
    assert code == 0, out
