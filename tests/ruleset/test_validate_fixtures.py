"""Every check of the rule loader: one bad rule folder per check, its exact error lines pinned.

Each `fixtures/bad-<check>/` is the `fixtures/good/` rule set with one kind of mistake in it.
The loader is run on the folder given as a relative path, as ops would type it, so the
snapshots hold exactly what `billflow validate bad-<check>` prints, one line per error.

A folder whose output is wrong today is not snapshotted (a snapshot would pin the mistake):
it is listed in KNOWN_WRONG with what it should say, as a strict xfail.
"""

from __future__ import annotations

import difflib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.ruleset.loader import check_ruleset

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = "good"
BAD = sorted(path.name for path in FIXTURES.iterdir()
             if path.is_dir() and path.name.startswith("bad-"))

ERROR_LINE = re.compile(r"^[^:\n]+:\d+:\d+: [^\n]+$")
LEAKS = (
    "is not valid under any of the given schemas",  # jsonschema's words, not ours
    "Traceback",
    "Decimal(",
    "datetime.date(",
    "object at 0x",
)


def run_check(folder: str, monkeypatch: pytest.MonkeyPatch):
    """Check a fixture folder named relative to the fixtures; return (ruleset, error lines)."""
    monkeypatch.chdir(FIXTURES)
    ruleset, errors = check_ruleset(folder)
    return ruleset, [str(error) for error in errors]


@dataclass(frozen=True)
class Wrong:
    """What a folder should report, where today's output is wrong."""

    reason: str
    expected: list[str] | None = None          # the exact lines, when they are certain
    at: list[str] = field(default_factory=list)          # line prefixes that must appear
    contains: list[str] = field(default_factory=list)    # words some line must hold
    excludes: list[str] = field(default_factory=list)    # words no line may hold
    matches: list[str] = field(default_factory=list)     # patterns some line must match
    count: int | None = None                   # how many errors there should be
    # What is right already, and pinned without xfail: "words" (only the places are
    # wrong), "lines" (every expected line is reported, among extra ones) or "places"
    # (the `at` prefixes are reported, in the wrong words).
    already: str | None = None


CASCADE = ("a document with a schema error is left out of the id index, so every "
           "reference to an id it declares is reported as unknown as well")
ITEM_LINE = ("an error about a list item is located at the list's key, not at the item")

KNOWN_WRONG: dict[str, Wrong] = {
    # Every folder's output is pinned by a snapshot; a folder whose output is found wrong
    # is listed here, with what it should say, until the loader says it.
}

SNAPSHOTTED = [folder for folder in BAD if folder not in KNOWN_WRONG]


def test_every_known_wrong_entry_has_a_folder() -> None:
    assert set(KNOWN_WRONG) <= set(BAD)


def _yaml_lines(folder: Path) -> dict[str, list[str]]:
    return {file.relative_to(folder).as_posix(): file.read_text(encoding="utf-8").splitlines()
            for file in folder.rglob("*.yaml")}


@pytest.mark.parametrize("folder", BAD)
def test_bad_folders_stay_twins_of_good(folder: str) -> None:
    """A bad folder is the good set with one mistake: if good/ changes, change its twins."""
    good, bad = _yaml_lines(FIXTURES / GOOD), _yaml_lines(FIXTURES / folder)
    assert len(set(good) ^ set(bad)) <= 1, sorted(set(good) ^ set(bad))
    changed = [line for name in set(good) & set(bad)
               for line in difflib.unified_diff(good[name], bad[name], lineterm="", n=0)
               if line.startswith("-") and not line.startswith("---")]
    assert len(changed) <= 10, changed


def test_the_good_twin_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset, lines = run_check(GOOD, monkeypatch)
    assert lines == []
    assert ruleset is not None
    assert ruleset.warnings == ()


@pytest.mark.parametrize("folder", SNAPSHOTTED)
def test_error_lines(folder: str, monkeypatch: pytest.MonkeyPatch, snapshot) -> None:
    ruleset, lines = run_check(folder, monkeypatch)
    assert ruleset is None
    assert lines, "a bad fixture must report at least one error"
    assert lines == snapshot


@pytest.mark.parametrize("folder", [
    pytest.param(folder, marks=pytest.mark.xfail(strict=True, reason=wrong.reason))
    for folder, wrong in sorted(KNOWN_WRONG.items())
])
def test_known_wrong_error_lines(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = KNOWN_WRONG[folder]
    ruleset, lines = run_check(folder, monkeypatch)
    assert ruleset is None
    assert lines
    if wrong.expected is not None:
        assert lines == wrong.expected
    if wrong.count is not None:
        assert len(lines) == wrong.count, lines
    for prefix in wrong.at:
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    for words in wrong.contains:
        assert any(words in line for line in lines), (words, lines)
    for words in wrong.excludes:
        assert not any(words in line for line in lines), (words, lines)
    for pattern in wrong.matches:
        assert any(re.search(pattern, line) for line in lines), (pattern, lines)


LOCATION = re.compile(r"^[^:]+:\d+:\d+: ")


@pytest.mark.parametrize("folder", sorted(f for f, w in KNOWN_WRONG.items() if w.already))
def test_what_is_already_right(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = KNOWN_WRONG[folder]
    _, lines = run_check(folder, monkeypatch)
    if wrong.already == "words":
        assert wrong.expected is not None
        assert [LOCATION.sub("", line) for line in lines] == [
            LOCATION.sub("", line) for line in wrong.expected]
    elif wrong.already == "lines":
        assert wrong.expected is not None
        assert set(wrong.expected) < set(lines)
    else:
        assert wrong.already == "places" and wrong.at
        for prefix in wrong.at:
            assert any(line.startswith(prefix) for line in lines), (prefix, lines)


# Folders whose output breaks the one-line, plain-words contract itself.
NOT_PLAIN: dict[str, str] = {}


@pytest.mark.parametrize("folder", [
    pytest.param(folder, marks=pytest.mark.xfail(strict=True, reason=NOT_PLAIN[folder]))
    if folder in NOT_PLAIN else folder
    for folder in BAD
])
def test_errors_are_located_plain_sentences(folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset, lines = run_check(folder, monkeypatch)
    assert ruleset is None
    assert lines
    for line in lines:
        assert ERROR_LINE.match(line), line
        assert line.startswith(f"{folder}/"), line
        for leak in LEAKS:
            assert leak not in line, line


def test_numbering_without_reset_uses_the_schema_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(FIXTURES / GOOD, rules)
    agency = rules / "agency.yaml"
    agency.write_text(agency.read_text(encoding="utf-8").replace(
        'invoice_numbering: {format: "FX-{year}-{seq:05d}", reset: yearly}',
        'invoice_numbering: {format: "FX-{seq:06d}"}'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    ruleset, errors = check_ruleset("rules")
    assert [str(error) for error in errors] == []
    assert ruleset is not None and ruleset.agency.numbering.reset == "never"
