"""`--base` as a git ref of the repository holding RULES, and the errors a base can raise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
RATE = ('          designer: "165.00"', '          designer: "170.00"')


@pytest.fixture
def repo(tmp_path: Path, git, edit) -> Path:
    """A git repository whose billing/northwind rules changed a rate in the last commit."""
    top = tmp_path / "agency-rules"
    shutil.copytree(NORTHWIND, top / "billing" / "northwind")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "Northwind as shipped")
    edit(top / "billing/northwind/clients/pinecrest-labs.yaml", *RATE)
    git(top, "commit", "-q", "-am", "Raise Pinecrest's designer rate")
    return top


def test_base_head_1_plans_the_last_commit(repo: Path, plan_process, git) -> None:
    done = plan_process("billing/northwind", "--base", "HEAD~1", cwd=repo)
    assert done.code == 2, done.stderr
    assert done.stderr == ""
    first = done.stdout.splitlines()[0]
    short = git(repo, "rev-parse", "--short", "HEAD~1").strip()
    assert first == f"billflow plan: billing/northwind against HEAD~1:billing/northwind ({short})"
    assert "invoices     0 added, 0 removed, 7 changed" in done.stdout
    assert "- line  Felix Brandt  7 × 165.00 = 1,155.00" in done.stdout


def test_the_rules_path_is_read_from_the_repository_top(repo: Path, plan, monkeypatch) -> None:
    monkeypatch.chdir(repo / "billing")
    done = plan("northwind", "--base", "HEAD~1", "--format", "json")
    assert done.code == 2, done.stderr
    assert '"label": "HEAD~1:billing/northwind' in done.stdout


def test_the_same_commit_plans_as_no_change(repo: Path, plan, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    done = plan("billing/northwind", "--base", "HEAD")
    assert done.code == 0, done.stderr
    assert "No changes" in done.stdout


def test_a_ref_that_does_not_exist_is_one_clear_error(repo: Path, plan_process) -> None:
    done = plan_process("billing/northwind", "--base", "release-2025", cwd=repo)
    assert done.code == 1
    assert done.stdout == ""
    assert done.stderr == ("billflow: base 'release-2025' is neither a folder nor a commit of "
                           "the git repository at billing/northwind\n")


def test_rules_missing_at_the_ref_are_an_error(repo: Path, plan, git, monkeypatch) -> None:
    shutil.copytree(repo / "billing/northwind", repo / "billing/southwind")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "A second agency")
    monkeypatch.chdir(repo)
    done = plan("billing/southwind", "--base", "HEAD~1")
    assert done.code == 1
    assert done.stderr.splitlines()[-1] == ("billflow: HEAD~1:billing/southwind does not exist: "
                                            "the rules were not at that path at HEAD~1")


def test_a_base_outside_git_that_is_no_folder_is_an_error(tmp_path: Path, plan,
                                                          monkeypatch) -> None:
    shutil.copytree(NORTHWIND, tmp_path / "head")
    monkeypatch.chdir(tmp_path)
    done = plan("head", "--base", "old-rules")
    assert done.code == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "billflow: base 'old-rules' is not a folder, and head is not in a git repository")


def test_invalid_base_rules_name_their_errors_at_the_ref(repo: Path, plan, git, edit,
                                                         monkeypatch) -> None:
    edit(repo / "billing/northwind/routes.yaml", "  escalate_to: dana\n---",
         "  escalate_to: dnaa\n---")
    git(repo, "commit", "-q", "-am", "A typo")
    edit(repo / "billing/northwind/routes.yaml", "  escalate_to: dnaa\n---",
         "  escalate_to: dana\n---")
    monkeypatch.chdir(repo)
    done = plan("billing/northwind", "--base", "HEAD")
    assert done.code == 1
    *located, last = done.stderr.strip().splitlines()
    assert located and all(line.startswith("HEAD:billing/northwind/routes.yaml:") for line in located)
    assert last == ("billflow: the base rules (HEAD:billing/northwind) are invalid (1 error); "
                    "a plan needs both sides valid")


def test_invalid_head_rules_are_an_error(workspace: Path, plan, edit) -> None:
    edit(workspace / "head/cadences.yaml", "offset: 14d", "offset: fortnight")
    done = plan("head", "--base", "base")
    assert done.code == 1
    assert done.stderr.strip().splitlines()[-1].startswith("billflow: the head rules (head) are invalid")


def test_a_missing_option_is_an_error_not_a_change(workspace: Path, plan_process) -> None:
    done = plan_process("head", cwd=workspace)
    assert done.code == 1
    assert "Missing option '--base'" in done.stderr
