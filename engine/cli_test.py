"""`billflow test`: run the scenario files kept beside the rules (RULES/tests/*.yaml).

Exit 0 when every test passes, 1 when a test fails, a file is invalid or nothing was
tested, 2 on a usage error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from engine.cli_common import load_rules
from engine.errors import UsageError

__all__ = ["test_command"]


@click.command("test")
@click.argument("rules", default="rules", metavar="[RULES]")
@click.option("--run", "pattern", metavar="PATTERN",
              help="run only the tests whose name matches this regular expression")
@click.option("--junit-xml", "junit_path", metavar="FILE",
              help="also write the results as JUnit XML, for CI")
@click.option("--format", "fmt", type=click.Choice(["text"]), default="text", show_default=True)
def test_command(rules: str, pattern: str | None, junit_path: str | None, fmt: str) -> None:
    """Run the scenario tests beside the rules: given events, expect actions."""
    from engine.ruletest.report import render_junit, render_text
    from engine.ruletest.runner import run_tests

    if not Path(rules).is_dir():
        raise UsageError(f"{rules}: not a rule folder")
    ruleset = load_rules(rules)
    run = run_tests(ruleset, rules, pattern, clock=time.perf_counter)
    if junit_path is not None:
        try:
            Path(junit_path).write_text(render_junit(run), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--junit-xml {junit_path}: cannot write it ({exc.strerror})") from None
    click.echo(render_text(run))
    if not run.ok:
        sys.exit(1)
