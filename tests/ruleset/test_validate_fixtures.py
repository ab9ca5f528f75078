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
    # --- located at the list's key instead of the item
    "bad-unknown-key": Wrong(ITEM_LINE, already="words", expected=[
        "bad-unknown-key/clients/acme.yaml:11:3: spec: unknown key 'payment_term' "
        "(did you mean 'payment_terms'?)",
        "bad-unknown-key/clients/acme.yaml:16:7: spec.engagements[0]: missing required key "
        "'billing_day'",
        "bad-unknown-key/clients/acme.yaml:19:7: spec.engagements[0]: unknown key 'biling_day' "
        "(did you mean 'billing_day'?)",
        "bad-unknown-key/clients/acme.yaml:32:11: spec.engagements[1].milestones[1]: missing "
        "required key 'percent'",
        "bad-unknown-key/clients/acme.yaml:32:42: spec.engagements[1].milestones[1]: unknown key "
        "'percnt' (did you mean 'percent'?)",
    ]),
    "bad-engagement-model": Wrong(ITEM_LINE, already="words", expected=[
        "bad-engagement-model/clients/acme.yaml:16:7: spec.engagements[0]: missing required key "
        "'amount'",
    ]),
    "bad-missing-key-item": Wrong(ITEM_LINE, already="words", expected=[
        "bad-missing-key-item/clients/acme.yaml:8:9: spec.contacts.billing[0]: missing required "
        "key 'email'",
    ]),
    "bad-route-last-when": Wrong(ITEM_LINE, already="words", expected=[
        "bad-route-last-when/routes.yaml:8:7: spec.rules[2]: the last rule must have no 'when', "
        "so that every draft reaches someone",
    ]),
    "bad-cadence-steps": Wrong(ITEM_LINE, already="words", expected=[
        "bad-cadence-steps/cadences.yaml:8:7: spec.steps[2]: two steps are both '0d'; give them "
        "distinct offsets or ids",
    ]),
    # --- one mistake reported again as unknown references elsewhere
    "bad-route-rule": Wrong(f"{CASCADE}; and {ITEM_LINE}", expected=[
        "bad-route-rule/routes.yaml:6:7: spec.rules[0]: 'approver' and 'auto_approve' cannot be "
        "used together",
    ]),
    "bad-escalate-after": Wrong(CASCADE, already="lines", expected=[
        "bad-escalate-after/routes.yaml:4:1: spec: missing required key 'escalate_to'",
    ]),
    "bad-late-fee": Wrong(CASCADE, already="lines", expected=[
        "bad-late-fee/escalations.yaml:9:3: spec.late_fee: 'percent' and 'amount' cannot be "
        "used together",
    ]),
    "bad-duration": Wrong(CASCADE, already="lines", expected=[
        "bad-duration/agency.yaml:13:5: spec.defaults.send_within: '1 busines day' is not valid: "
        "expected a duration such as 15m, 24h, 3d, 2w or 1 business day",
        "bad-duration/routes.yaml:9:3: spec.remind_after: '24 hours' is not valid: expected a "
        "duration such as 15m, 24h, 3d, 2w or 1 business day",
    ]),
    "bad-missing-key-agency": Wrong(CASCADE, already="lines", expected=[
        "bad-missing-key-agency/agency.yaml:4:1: spec: missing required key 'timezone'",
    ]),
    # --- values
    "bad-currency": Wrong(
        "a currency that is not three capitals gets the schema's pattern message with no "
        f"did-you-mean ('usd' should suggest 'USD'); and {CASCADE}",
        count=2, already="places",
        at=["bad-currency/agency.yaml:6:3: ", "bad-currency/clients/acme.yaml:9:3: "],
        contains=["'USDD' is not an ISO 4217 currency code (did you mean 'USD'?)",
                  "'usd' is not an ISO 4217 currency code (did you mean 'USD'?)"]),
    "bad-currency-code": Wrong(
        "an unknown three-letter currency on a client is reported, then the amount check "
        "calls round_money with it and the loader crashes with ValueError",
        count=1,
        at=["bad-currency-code/clients/acme.yaml:9:3: "],
        contains=["'EUD' is not an ISO 4217 currency code"]),
    "bad-decimal": Wrong(
        "one '.nan' is reported twice: by the schema and again by the YAML reader",
        count=1, already="places", at=["bad-decimal/clients/acme.yaml:44:"]),
    "bad-wrong-type-tax": Wrong(
        "a list for tax is reported twice at the same place, once as 'expected a mapping' "
        "and once as 'expected a string or a mapping'",
        count=1, already="places", at=["bad-wrong-type-tax/clients/acme.yaml:10:3: spec.tax: "]),
    "bad-number-format": Wrong(
        "an unknown field in the number format makes str.format raise KeyError first, so the "
        "message is \"is not a valid number format: 'yr'\" instead of the did-you-mean",
        already="places", at=["bad-number-format/agency.yaml:8:23: spec.invoice_numbering.format: "],
        expected=[
            "bad-number-format/agency.yaml:8:23: spec.invoice_numbering.format: unknown field "
            "'{yr}' in the number format (did you mean 'year'?); use year, month and seq",
        ]),
    # --- conditions
    "bad-condition-syntax": Wrong(
        "Python's own 'invalid syntax' is prefixed with 'invalid syntax: ', so the message "
        "stutters",
        count=1, already="places",
        at=["bad-condition-syntax/routes.yaml:6:29: spec.rules[0].when: "],
        excludes=["invalid syntax: invalid syntax"]),
    "bad-condition-folded": Wrong(
        "in a folded (>) condition the error points at the first line of the expression, "
        "not at the offending name on a later line",
        already="words", expected=[
            "bad-condition-folded/escalations.yaml:7:9: spec.when: unknown name "
            "'invoice.balanse' (did you mean 'invoice.balance'?) in "
            "'invoice.days_overdue > 30 and invoice.balanse > 0'",
        ]),
    "bad-condition-multiline": Wrong(
        "the message quotes a literal (|) condition with its line breaks, so one error "
        "spans three lines of output",
        count=1, excludes=["\n"]),
    "bad-condition-thousands": Wrong(
        "'invoice.total >= 25,000' compiles as the tuple (invoice.total >= 25, 0), which is "
        "always true: every draft goes to this approver",
        count=1, at=["bad-condition-thousands/routes.yaml:6:"]),
    # --- templates
    "bad-template-folded": Wrong(
        "in a folded (>) template body the error is put on the first line of the body, not on "
        "the line that holds the unknown variable",
        already="words", expected=[
            "bad-template-folded/templates.yaml:19:5: spec.body: unknown variable "
            "'invoice.balanse' (did you mean 'invoice.balance'?)",
        ]),
    # --- YAML
    "bad-yaml-unclosed": Wrong(
        "an unclosed flow mapping or quoted string is reported where the parser gave up (the "
        "next key, or the end of the file) without naming the line where it was opened",
        count=2, matches=[r"^bad-yaml-unclosed/clients/acme\.yaml:(8:\d+: |.*\bline 8\b)",
                          r"^bad-yaml-unclosed/templates\.yaml:(16:\d+: |.*\bline 16\b)"]),
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
NOT_PLAIN = {
    "bad-currency-code": KNOWN_WRONG["bad-currency-code"].reason,
    "bad-condition-multiline": KNOWN_WRONG["bad-condition-multiline"].reason,
    "bad-condition-thousands": KNOWN_WRONG["bad-condition-thousands"].reason,
}


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


@pytest.mark.xfail(strict=True, reason=(
    "the Agency schema gives invoice_numbering.reset the default 'never', but the loader "
    "treats a missing reset as 'yearly' and rejects a format without {year}"))
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
