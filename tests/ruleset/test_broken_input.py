"""Broken input of any kind gives located, one-line errors and never a traceback.

Each case drops one broken file into a copy of the good fixture rule set and checks it
twice: in process (the exact error lines) and through `billflow validate` as a subprocess
(exit code, stderr shape).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.ruleset.loader import check_ruleset

REPO = Path(__file__).resolve().parents[2]
GOOD = Path(__file__).parent / "fixtures" / "good"
ERROR_LINE = re.compile(r"^[^:]+:\d+:\d+: .+")
SUMMARY = re.compile(r"^rules: \d+ errors?$")


def rules_with(tmp_path: Path, name: str, content: bytes) -> Path:
    """Copy the good rule set to tmp_path/rules and add one file to it."""
    rules = tmp_path / "rules"
    shutil.copytree(GOOD, rules)
    (rules / name).write_bytes(content)
    return rules


def check_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str = "rules"):
    monkeypatch.chdir(tmp_path)
    ruleset, errors = check_ruleset(folder)
    return ruleset, [str(error) for error in errors]


def validate_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def start_cli(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "validate", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def assert_clean_stderr(stderr: str, errors: int) -> None:
    """Every stderr line is `path:line:col: message`, then one summary line."""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == errors + 1, stderr
    for line in lines[:-1]:
        assert ERROR_LINE.match(line), line
    assert SUMMARY.match(lines[-1]), lines[-1]


def _alias_bomb() -> bytes:
    lines = ["apiVersion: billflow/v1", "kind: Template", "metadata: {id: lol}", "spec:",
             "  subject: Hello", "  body: Hello",
             '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


def _deep_nesting() -> bytes:
    return (b"apiVersion: billflow/v1\nkind: Template\nmetadata: {id: deep}\nspec:\n"
            b"  subject: " + b"[" * 5000 + b"]" * 5000 + b"\n  body: Hello\n")


def _binary() -> bytes:
    noise = random.Random(20260101).randbytes(4096)
    return noise[:100] + b"\x00" + noise[100:]


TEMPLATE = b"apiVersion: billflow/v1\nkind: Template\nmetadata: {id: extra}\n"
NOT_A_DOCUMENT = "a rule document must be a mapping with apiVersion, kind, metadata and spec"

CASES = {
    "empty file": (b"", [
        "rules/broken.yaml:1:1: this file holds no rule documents",
    ]),
    "comment-only file": (b"# nothing here yet\n# still nothing\n", [
        "rules/broken.yaml:1:1: this file holds no rule documents",
    ]),
    "a list document": (b"- apiVersion: billflow/v1\n- kind: Client\n", [
        f"rules/broken.yaml:1:1: {NOT_A_DOCUMENT}; got a list",
    ]),
    "a scalar document": (b"just some words\n", [
        f"rules/broken.yaml:1:1: {NOT_A_DOCUMENT}; got the string 'just some words'",
    ]),
    "a binary file": (_binary(), [
        "rules/broken.yaml:1:1: this is a binary file, not a YAML rule file",
    ]),
    "invalid UTF-8": (TEMPLATE.replace(b"extra", b"caf\xe9") + b"spec: {subject: a, body: b}\n", [
        "rules/broken.yaml:3:1: this file is not UTF-8 text",
    ]),
    "an alias bomb": (_alias_bomb(), [
        "rules/broken.yaml:1:1: this document is too large or nested too deeply",
    ]),
    "deep nesting": (_deep_nesting(), [
        "rules/broken.yaml:1:1: this document is too large or nested too deeply",
    ]),
    "a self-referencing alias": (TEMPLATE + b"spec:\n  subject: &s [Hello, *s]\n  body: Hello\n", [
        "rules/broken.yaml:5:3: spec.subject: expected a string, got a list",
        "rules/broken.yaml:5:12: this alias refers to itself; rule files cannot be recursive",
    ]),
    "an unknown apiVersion": (
        TEMPLATE.replace(b"billflow/v1", b"billflow/v9") + b"spec: {subject: a, body: b}\n", [
            "rules/broken.yaml:1:1: unknown apiVersion 'billflow/v9' (did you mean "
            "'billflow/v1'?); this billflow reads billflow/v1",
        ]),
    "a list as a key": (TEMPLATE + b"spec:\n  subject: a\n  body: b\n  ? [x, y]\n  : 1\n", [
        "rules/broken.yaml:7:5: a key must be a plain word, not a list or mapping",
    ]),
    "a missing apiVersion": (TEMPLATE[len(b"apiVersion: billflow/v1\n"):]
                             + b"spec: {subject: a, body: b}\n", [
        "rules/broken.yaml:1:1: missing required key 'apiVersion' (use 'billflow/v1')",
    ]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_file_gives_located_errors(case: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    content, expected = CASES[case]
    rules_with(tmp_path, "broken.yaml", content)
    ruleset, lines = check_in(tmp_path, monkeypatch)
    assert ruleset is None
    assert lines == expected


@pytest.mark.parametrize("case", list(CASES))
def test_broken_file_through_the_cli(case: str, tmp_path: Path) -> None:
    content, expected = CASES[case]
    rules_with(tmp_path, "broken.yaml", content)
    result = validate_cli(tmp_path, "rules")
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert_clean_stderr(result.stderr, len(expected))
    assert result.stderr.splitlines()[:-1] == expected


def test_a_file_that_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(GOOD, rules)
    (rules / "broken.yaml").symlink_to(tmp_path / "gone.yaml")
    expected = ["rules/broken.yaml:1:1: cannot read this file: No such file or directory"]
    ruleset, lines = check_in(tmp_path, monkeypatch)
    assert ruleset is None
    assert lines == expected
    result = validate_cli(tmp_path, "rules")
    assert result.returncode == 1
    assert_clean_stderr(result.stderr, 1)
    assert result.stderr.splitlines()[:-1] == expected


def test_crlf_line_endings_and_a_byte_order_mark_are_fine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(GOOD, rules)
    for file in rules.rglob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        file.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    ruleset, lines = check_in(tmp_path, monkeypatch)
    assert lines == []
    assert ruleset is not None


def test_a_trailing_document_separator_is_not_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(GOOD, rules)
    routes = rules / "routes.yaml"
    routes.write_text(routes.read_text(encoding="utf-8") + "---\n", encoding="utf-8")
    ruleset, lines = check_in(tmp_path, monkeypatch)
    assert lines == []
    assert ruleset is not None


def test_a_missing_folder_is_a_usage_error(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="^nowhere: no such rule folder or file$"):
        check_ruleset("nowhere")
    result = validate_cli(tmp_path, "nowhere")
    assert result.returncode == 2
    assert result.stderr == "billflow: nowhere: no such rule folder or file\n"
    assert result.stdout == ""


def test_a_folder_without_yaml_is_a_usage_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("rules go here\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"^empty: no rule files \(\*\.yaml\) found here$"):
        check_ruleset("empty")
    result = validate_cli(tmp_path, "empty")
    assert result.returncode == 2
    assert result.stderr == "billflow: empty: no rule files (*.yaml) found here\n"
    assert "Traceback" not in result.stderr


# --- 10,000 documents in one file, every other one broken

MISTAKES = ("kind", "apiVersion", "key", "variable")


def _many_templates(count: int) -> tuple[bytes, list[str]]:
    """Return a file of `count` Template documents and the error lines of its broken half."""
    parts: list[str] = []
    expected: list[str] = []
    line = 1  # first line of the current document
    for i in range(count):
        api, kind, key = "billflow/v1", "Template", "subject"
        subject = "Invoice {{ invoice.number }}"
        mistake = MISTAKES[(i // 2) % len(MISTAKES)] if i % 2 else None
        where = f"rules/many.yaml:{{}}: "
        if mistake == "kind":
            kind = "Templat"
            expected.append(where.format(f"{line + 1}:1") + "unknown kind 'Templat' (did you mean "
                            "'Template'?); expected one of Agency, Client, ApprovalRoute, "
                            "ReminderCadence, EscalationRule, Template")
        elif mistake == "apiVersion":
            api = "billflow/v0"
            expected.append(where.format(f"{line}:1") + "unknown apiVersion 'billflow/v0' (did "
                            "you mean 'billflow/v1'?); this billflow reads billflow/v1")
        elif mistake == "key":
            key = "subjct"
            expected.append(where.format(f"{line + 3}:1") + "spec: missing required key 'subject'")
            expected.append(where.format(f"{line + 4}:3") + "spec: unknown key 'subjct' (did you "
                            "mean 'subject'?)")
        elif mistake == "variable":
            subject = "Invoice {{ invoice.numbr }}"
            expected.append(where.format(f"{line + 4}:24") + "spec.subject: unknown variable "
                            "'invoice.numbr' (did you mean 'invoice.number'?)")
        parts.append(f"apiVersion: {api}\nkind: {kind}\nmetadata: {{id: t{i:05d}}}\nspec:\n"
                     f"  {key}: \"{subject}\"\n  body: \"Hello {{{{ contact.name }}}}\"\n")
        line += 7  # six lines of document and the '---' after it
    return "---\n".join(parts).encode("utf-8"), expected


@pytest.mark.slow
def test_ten_thousand_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content, expected = _many_templates(10_000)
    assert len(expected) == 6_250  # 5,000 broken documents; an unknown key is two errors
    rules_with(tmp_path, "many.yaml", content)
    cli = start_cli(tmp_path, "rules")  # runs beside the in-process check
    try:
        started = time.perf_counter()
        ruleset, lines = check_in(tmp_path, monkeypatch)
        elapsed = time.perf_counter() - started
        stdout, stderr = cli.communicate(timeout=300)
    finally:
        if cli.poll() is None:
            cli.kill()
    print(f"check_ruleset on 10,000 documents: {elapsed:.1f} s")
    assert ruleset is None
    assert lines == expected
    assert cli.returncode == 1
    assert stdout == ""
    assert_clean_stderr(stderr, len(expected))
    assert stderr.splitlines()[:-1] == expected
