"""Find the base rule set of a plan: a folder as it is, or the rules folder at a git ref.

A base that names an existing folder is that folder. Anything else is a git ref of the
repository that holds RULES: the folder at RULES's path (relative to the repository's
top) is extracted at that ref into a temporary folder, which is removed afterwards.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UsageError

__all__ = ["BaseRules", "base_rules"]


@dataclass(frozen=True)
class BaseRules:
    """The base side's rules: where they are now, and how to name them to people."""

    folder: Path
    label: str       # "HEAD~1:examples/northwind" or the folder as given
    commit: str | None = None  # the abbreviated commit of a git ref


def _git(top: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=top, capture_output=True, check=False)
    except OSError as exc:  # git itself is missing
        raise UsageError(f"cannot run git to read the base ({exc.strerror})") from None


def _repository_top(rules: Path, ref: str) -> Path:
    start = rules if rules.is_dir() else rules.parent
    if not start.is_dir():
        raise UsageError(f"{rules}: no such rule folder or file")
    found = _git(start, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise UsageError(f"base '{ref}' is not a folder, and {rules} is not in a git "
                         "repository where it could be a ref")
    return Path(found.stdout.decode().strip())


def _inside(rules: Path, top: Path) -> str:
    relative = os.path.relpath(rules.resolve(), top.resolve())
    if relative.startswith(".."):
        raise UsageError(f"{rules} is outside the git repository at its folder")
    return Path(relative).as_posix()


@contextmanager
def base_rules(rules: str | Path, base: str) -> Iterator[BaseRules]:
    """Yield the base rules named by `base`; a git ref is extracted for the duration."""
    if Path(base).is_dir():
        yield BaseRules(Path(base), base)
        return
    rules_path = Path(rules)
    top = _repository_top(rules_path, base)
    commit = _git(top, "rev-parse", "--verify", "--quiet", "--short", f"{base}^{{commit}}")
    if commit.returncode != 0:
        raise UsageError(f"base '{base}' is neither a folder nor a commit of the git "
                         f"repository at {rules}")
    inner = _inside(rules_path, top)
    label = base if inner == "." else f"{base}:{inner}"
    if _git(top, "cat-file", "-e", f"{base}:{'' if inner == '.' else inner}").returncode != 0:
        raise UsageError(f"{label} does not exist: the rules were not at that path at {base}")
    archive = _git(top, "archive", "--format=tar", base, "--", inner)
    if archive.returncode != 0:
        reason = archive.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"cannot read {label} from git ({reason[-1] if reason else 'no reason given'})")
    with tempfile.TemporaryDirectory(prefix="billflow-plan-") as scratch:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(scratch, filter="data")
        folder = Path(scratch) / inner
        if inner != "." and not folder.exists():  # an empty folder is not archived
            raise UsageError(f"{label} holds no files at {base}")
        yield BaseRules(folder, label, commit.stdout.decode().strip())
