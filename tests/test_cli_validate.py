"""`billflow validate` and `billflow schema`: exit codes, output streams, the JSON shape."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.ruleset.loader import check_ruleset
from engine.ruleset.schema_check import KINDS, SCHEMA_ROOT

REPO = Path(__file__).resolve().parents[1]
FIXTURES = "tests/ruleset/fixtures"
ERROR_LINE = re.compile(r"^[^:]+:\d+:\d+: .+$")
VALID_LINE = re.compile(
    r"^(?P<rules>\S+): valid — \d+ clients, \d+ engagements, rules version [0-9a-f]{12}$")


def billflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture(autouse=True)
def _in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


# --- validate: exit codes and streams

@pytest.mark.parametrize("rules", ["examples/northwind", "rules", f"{FIXTURES}/good"])
def test_a_valid_rule_set_exits_0(rules: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = billflow(capsys, "validate", rules)
    assert code == 0
    assert err == ""
    match = VALID_LINE.match(out.rstrip("\n"))
    assert match and match["rules"] == rules, out


def test_validate_reads_rules_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = billflow(capsys, "validate")
    assert code == 0
    assert out.startswith("rules: valid")


def test_an_invalid_rule_set_exits_1_with_one_line_per_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = billflow(capsys, "validate", f"{FIXTURES}/bad-enum")
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[-1] == f"{FIXTURES}/bad-enum: 3 errors"
    assert len(lines) == 4
    for line in lines[:-1]:
        assert ERROR_LINE.match(line), line
        assert line.startswith(f"{FIXTURES}/bad-enum/clients/acme.yaml:"), line


def test_one_error_is_counted_in_the_singular(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = billflow(capsys, "validate", f"{FIXTURES}/bad-timezone")
    assert code == 1
    assert err.splitlines()[-1] == f"{FIXTURES}/bad-timezone: 1 error"


@pytest.mark.parametrize("argv, words", [
    (["validate", "no/such/folder"], "billflow: no/such/folder: no such rule folder or file"),
    (["validate", "--format", "xml", "rules"], "Invalid value for '--format'"),
    (["validate", "rules", "examples/northwind"], "unexpected extra argument"),
    (["validate", "--no-such-option"], "No such option"),
])
def test_usage_errors_exit_2(argv: list[str], words: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = billflow(capsys, *argv)
    assert code == 2
    assert out == ""
    assert words in err
    assert "Traceback" not in err


# --- validate --format json

def test_json_for_a_valid_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = billflow(capsys, "validate", "examples/northwind", "--format", "json")
    assert code == 0
    assert err == ""
    report = json.loads(out)
    assert set(report) == {"rules", "valid", "version", "errors"}
    assert report["rules"] == "examples/northwind"
    assert report["valid"] is True
    assert re.fullmatch(r"[0-9a-f]{12}", report["version"])
    assert report["errors"] == []
    ruleset, _ = check_ruleset("examples/northwind")
    assert ruleset is not None and report["version"] == ruleset.version


def test_json_for_an_invalid_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    rules = f"{FIXTURES}/bad-reference"
    code, out, err = billflow(capsys, "validate", rules, "--format", "json")
    assert code == 1
    assert err == ""
    report = json.loads(out)
    assert report["valid"] is False
    assert report["version"] is None
    assert report["errors"]
    for error in report["errors"]:
        assert set(error) == {"path", "line", "column", "message"}
        assert isinstance(error["line"], int) and isinstance(error["column"], int)
        assert error["line"] >= 1 and error["column"] >= 1
        assert error["path"].startswith(f"{rules}/")
    # The same errors, in the same order, as the text format prints them.
    _, _, text_err = billflow(capsys, "validate", rules)
    assert [f"{e['path']}:{e['line']}:{e['column']}: {e['message']}"
            for e in report["errors"]] == text_err.splitlines()[:-1]


# --- the real entry points

def test_python_m_engine_cli_validate_northwind() -> None:
    result = subprocess.run([sys.executable, "-m", "engine.cli", "validate", "examples/northwind"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert VALID_LINE.match(result.stdout.rstrip("\n"))


def test_bin_billflow_runs_from_a_checkout(tmp_path: Path) -> None:
    script = REPO / "bin" / "billflow"
    assert os.access(script, os.X_OK)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(script), "validate", "examples/northwind"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("examples/northwind: valid")
    # From elsewhere, the rules named by an absolute path.
    elsewhere = subprocess.run(
        [sys.executable, str(script), "validate", str(REPO / FIXTURES / "bad-holidays")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert elsewhere.returncode == 1
    assert "Traceback" not in elsewhere.stderr
    assert "spec.holidays: 'ZZ' is not a known holiday calendar" in elsewhere.stderr


# --- schema

@pytest.mark.parametrize("kind", KINDS)
def test_schema_prints_each_rule_kind(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = billflow(capsys, "schema", kind)
    assert code == 0
    assert err == ""
    schema = json.loads(out)
    assert schema["$id"].endswith(f"/v1/{kind}.json")
    assert out == (SCHEMA_ROOT / "v1" / f"{kind}.json").read_text(encoding="utf-8")


def test_schema_client(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = billflow(capsys, "schema", "Client")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "engagements" in schema["properties"]["spec"]["properties"]


@pytest.mark.parametrize("name", ["events/time.approved", "actions/invoice.issued"])
def test_schema_of_events_and_actions(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = billflow(capsys, "schema", name)
    assert code == 0
    schema = json.loads(out)
    family, _, type_name = name.partition("/")
    assert schema["$id"].endswith(f"/{family}/v1/{type_name}.json")


@pytest.mark.parametrize("argv, words", [
    (["schema", "Nope"], "billflow: no schema for 'Nope'; rule kinds: Agency, Client"),
    (["schema", "events/nope.happened"], "no schema for 'events/nope.happened'"),
    (["schema", "--api-version", "billflow/v2", "Client"], "unknown apiVersion 'billflow/v2'"),
    (["schema"], "Missing argument 'KIND'"),
])
def test_schema_usage_errors_exit_2(argv: list[str], words: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = billflow(capsys, *argv)
    assert code == 2
    assert out == ""
    assert words in err
