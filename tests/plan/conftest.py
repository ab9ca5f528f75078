"""Northwind copied into a temporary folder, edited as text, and planned through the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli

ROOT = Path(__file__).resolve().parents[2]
NORTHWIND = ROOT / "examples" / "northwind"


@dataclass(frozen=True)
class Planned:
    """What `billflow plan` printed and its exit code."""

    code: int
    stdout: str
    stderr: str


def _edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in a rule file (the test fails if it is not one)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding `base/` and `head/`, both Northwind as shipped; the cwd of the test."""
    shutil.copytree(NORTHWIND, tmp_path / "base")
    shutil.copytree(NORTHWIND, tmp_path / "head")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _plan(*args: str) -> Planned:
    """Run `billflow plan ARGS` in this process, through the real command line."""
    result = CliRunner().invoke(cli, ["plan", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Planned(result.exit_code, result.stdout, result.stderr)


def _plan_process(*args: str, cwd: Path) -> Planned:
    """Run `billflow plan ARGS` as its own process, as CI runs it."""
    done = subprocess.run([sys.executable, "-m", "engine.cli", "plan", *args], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    return Planned(done.returncode, done.stdout, done.stderr)


def _git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` with a fixed identity; return its output."""
    done = subprocess.run(["git", "-c", "user.name=Ops", "-c", "user.email=ops@example.com",
                           "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                          capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def edit():
    """Replace the one occurrence of a text in a rule file."""
    return _edit


@pytest.fixture
def plan():
    """Run `billflow plan` in this process; returns a Planned."""
    return _plan


@pytest.fixture
def plan_process():
    """Run `billflow plan` as its own process; returns a Planned."""
    return _plan_process


@pytest.fixture
def git():
    """Run git with a fixed identity."""
    return _git
