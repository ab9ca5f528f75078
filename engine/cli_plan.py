"""`billflow plan`: replay one history under the base rules and the head rules, show the difference.

Exit codes follow Terraform's detailed plan: 0 no change, 2 changes, 1 error (every
error, a mistyped option included, so that CI can tell "changes" from "broken").
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from engine.cli_common import parse_day
from engine.errors import BillflowError, RuleError, UsageError

__all__ = ["plan", "EXIT_NO_CHANGE", "EXIT_ERROR", "EXIT_CHANGES"]

EXIT_NO_CHANGE, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
PLAN_FORMATS = ("text", "markdown", "json")
FULL_PLAN_NAME = "billflow-plan.full.md"


class PlanCommand(click.Command):
    """A command whose usage errors exit 1: 2 means "the plan has changes"."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            exc.exit_code = EXIT_ERROR
            raise


def _fail(message: str) -> None:
    click.echo(f"billflow: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _load_side(folder: Path, label: str, role: str) -> Any:
    from engine.ruleset.loader import check_ruleset

    ruleset, errors = check_ruleset(folder)
    if ruleset is None:
        prefix = str(folder)
        for error in errors:
            shown = (label + error.path[len(prefix):] if error.path.startswith(prefix)
                     else error.path)
            click.echo(str(RuleError(shown, error.line, error.col, error.message)), err=True)
        noun = "error" if len(errors) == 1 else "errors"
        _fail(f"the {role} rules ({label}) are invalid ({len(errors)} {noun}); "
              "a plan needs both sides valid")
    return ruleset


def _until(value: str | None, zone: Any) -> date | None:
    if value is None:
        return None
    if value == "today":  # the CLI may read the clock; the replay never does
        return datetime.now(zone).date()
    return parse_day(value, "--until")


def _full_plan_path(out: str | None, full_out: str | None) -> Path:
    if full_out is not None:
        return Path(full_out)
    if out is not None:
        path = Path(out)
        return path.with_name(f"{path.stem}.full{path.suffix or '.md'}")
    return Path(FULL_PLAN_NAME)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the plan ({exc.strerror})") from None


def _render(the_plan: Any, fmt: str, out: str | None, full_out: str | None,
            max_chars: int) -> str:
    from engine.plan import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(the_plan)
    if fmt == "text":
        return render_text(the_plan)
    whole = render_markdown(the_plan)
    if len(whole) <= max_chars:
        return whole
    full = _full_plan_path(out, full_out)
    _write(full, whole)
    click.echo(f"billflow: the markdown plan is {len(whole):,} characters, over the "
               f"{max_chars:,} a comment may hold; the full plan is in {full}", err=True)
    return render_markdown(the_plan, limit=max_chars, full_plan=str(full))


@click.command(cls=PlanCommand)
@click.argument("rules")
@click.option("--base", "base", required=True, metavar="REF_OR_DIR",
              help="the rules before the change: a folder, or a git ref of RULES's repository")
@click.option("--events", "events_path", metavar="FILE",
              help="NDJSON events to replay; default: RULES/events.ndjson")
@click.option("--from", "start", metavar="DATE",
              help="first day (agency time); default: each side's go_live, else the first event's day")
@click.option("--until", "end", metavar="DATE|today",
              help="last day (agency time); default: the last event's day + 90 days")
@click.option("--format", "fmt", type=click.Choice(PLAN_FORMATS), default="text",
              show_default=True)
@click.option("--out", metavar="FILE", help="write the plan to FILE instead of stdout")
@click.option("--max-chars", type=click.IntRange(min=1000), default=60_000, show_default=True,
              help="markdown only: cap the comment at this many characters")
@click.option("--full-out", metavar="FILE",
              help=f"markdown only: where the full plan goes when capped "
                   f"(default: beside --out, else ./{FULL_PLAN_NAME})")
def plan(rules: str, base: str, events_path: str | None, start: str | None, end: str | None,
         fmt: str, out: str | None, max_chars: int, full_out: str | None) -> None:
    """Show what a rule change adds, removes and alters; exit 0 none, 2 changes, 1 error."""
    try:
        from engine.plan import PlanSide, base_rules, history_path, plan_change, read_history

        first = parse_day(start, "--from") if start else None
        head = PlanSide(_load_side(Path(rules), rules, "head"), rules)
        history = read_history(history_path(rules, events_path))
        with base_rules(rules, base) as found:
            label = f"{found.label} ({found.commit})" if found.commit else found.label
            old = PlanSide(_load_side(found.folder, found.label, "base"), label)
        last = _until(end, head.rules.agency.calendar.zone)
        the_plan = plan_change(old, head, history, start=first, until=last)
        text = _render(the_plan, fmt, out, full_out, max_chars)
        if out is not None:
            _write(Path(out), text)
        else:
            click.echo(text, nl=False)
    except BillflowError as exc:
        _fail(str(exc))
    sys.exit(EXIT_CHANGES if the_plan.has_changes else EXIT_NO_CHANGE)
