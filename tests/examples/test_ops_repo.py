"""The ops-repo template: its own CI commands run green on a copy, as a new repository would.

The workflow file is read, and each of its `run:` steps (but installing billflow and
posting the comment) runs in a clone of a git repository made from the template, so the
plan step compares with `origin/main` exactly as it does in a pull request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "examples" / "ops-repo"
BIN = Path(sys.executable).parent
SKIPPED = ("pip install", "gh pr comment")

pytestmark = pytest.mark.slow


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(GIT_AUTHOR_NAME="Ops", GIT_AUTHOR_EMAIL="ops@lantern.example",
               GIT_COMMITTER_NAME="Ops", GIT_COMMITTER_EMAIL="ops@lantern.example",
               GIT_CONFIG_GLOBAL=str(home / ".gitconfig"), GIT_CONFIG_NOSYSTEM="1",
               HOME=str(home))
    # The plugin is found through its `pytest11` entry point, as in an ops repo's CI.
    assert "engine.pytest_plugin" in {ep.value for ep in entry_points(group="pytest11")}
    env["PYTEST_ADDOPTS"] = "-p no:cacheprovider"
    return env


def _run(command: str | list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, shell=isinstance(command, str),
                          executable="/bin/bash" if isinstance(command, str) else None,
                          capture_output=True, text=True, timeout=300)


def _workflow_steps() -> list[tuple[str, str]]:
    workflow = yaml.safe_load((TEMPLATE / ".github" / "workflows" / "billing.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    return [(step["name"], step["run"]) for step in steps
            if "run" in step and not any(skip in step["run"] for skip in SKIPPED)]


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Return a clone of a repository made from the template, on a branch, and its env."""
    env = _environment(tmp_path)
    upstream = tmp_path / "upstream"
    shutil.copytree(TEMPLATE, upstream, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", "out", "billflow-test.xml", "plan.md"))
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "-m", "billing rules"]):
        assert _run(command, upstream, env).returncode == 0
    work = tmp_path / "work"
    assert _run(["git", "clone", "-q", str(upstream), str(work)], tmp_path, env).returncode == 0
    assert _run(["git", "checkout", "-q", "-b", "raise-overage"], work, env).returncode == 0
    return work, env


def test_the_workflow_runs_the_expected_steps():
    names = [name for name, _ in _workflow_steps()]
    assert names == ["Validate the rules", "Scenario tests", "Snapshot tests", "Billing plan"]


def test_ci_is_green_on_the_template_as_committed(pull_request):
    work, env = pull_request
    for name, script in _workflow_steps():
        done = _run(script, work, env)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
    plan = (work / "plan.md").read_text(encoding="utf-8")
    assert plan.strip(), "the plan step wrote no plan"
    junit = (work / "billflow-test.xml").read_text(encoding="utf-8")
    assert 'failures="0"' in junit


def test_a_rule_change_shows_in_the_plan_and_fails_tests_until_snapshots_are_updated(pull_request):
    work, env = pull_request
    client = work / "rules" / "clients" / "acme.yaml"
    client.write_text(client.read_text().replace('overage_rate: "150.00"',
                                                 'overage_rate: "175.00"'))
    steps = dict(_workflow_steps())
    assert _run(steps["Validate the rules"], work, env).returncode == 0
    scenario = _run(steps["Scenario tests"], work, env)
    assert scenario.returncode == 1
    assert "+        unit_price: \"175.00\"" in scenario.stdout
    snapshots = _run(steps["Snapshot tests"], work, env)
    assert snapshots.returncode == 1
    plan = _run(["billflow", "plan", "rules", "--base", "origin/main", "--events",
                 "events/sample.ndjson", "--format", "markdown"], work, env)
    assert plan.returncode == 2, plan.stderr
    assert "acme/social/2026-02" in plan.stdout
    # The reviewer's view: update the snapshots, and the diff is the billing change.
    assert _run(["python", "-m", "pytest", "--snapshot-update", "-q"], work, env).returncode == 0
    diff = _run(["git", "diff", "--", "tests/__snapshots__"], work, env).stdout
    assert "-      Overage" in diff or "-    " in diff
    assert "175.00" in diff
    assert _run(steps["Snapshot tests"], work, env).returncode == 0
