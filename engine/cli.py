"""The `billflow` command line: thin click commands, each one call into the core."""

from __future__ import annotations

import json
import sys

import click

from engine.cli_common import load_rules, parse_day
from engine.cli_connect import connect
from engine.cli_connectors import connectors
from engine.cli_daemon import register as register_daemon_commands
from engine.cli_plan import plan
from engine.cli_test import test_command
from engine.errors import BillflowError, RuleSetInvalid, UsageError
from engine.reports.command import REPORT_KINDS, run_report
from engine.reports.render import FORMATS
from engine.ruleset.loader import check_ruleset
from engine.ruleset.schema_check import API_VERSIONS, KINDS, SCHEMA_ROOT

__all__ = ["cli", "main"]

DEFAULT_RULES = "rules"
PROGRESS_THRESHOLD = 20_000


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="billflow")
def cli() -> None:
    """billflow: invoicing automation for agencies, as rules-as-code."""


@cli.command()
@click.argument("rules", default=DEFAULT_RULES, metavar="[RULES]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text for people, json for tools")
def validate(rules: str, fmt: str) -> None:
    """Load, validate and cross-check a rule folder; exit 1 on any error."""
    ruleset, errors = check_ruleset(rules)
    if fmt == "json":
        click.echo(json.dumps({
            "rules": rules,
            "valid": ruleset is not None,
            "version": ruleset.version if ruleset else None,
            "errors": [error.as_dict() for error in errors],
        }, indent=2))
    else:
        for error in errors:
            click.echo(str(error), err=True)
        if ruleset is not None:
            engagements = sum(len(c.engagements) for c in ruleset.clients.values())
            click.echo(f"{rules}: valid — {len(ruleset.clients)} clients, {engagements} "
                       f"engagements, rules version {ruleset.version}")
        else:
            noun = "error" if len(errors) == 1 else "errors"
            click.echo(f"{rules}: {len(errors)} {noun}", err=True)
    if ruleset is None:
        sys.exit(1)


@cli.command()
@click.argument("kind", metavar="KIND")
@click.option("--api-version", default="billflow/v1", show_default=True)
def schema(kind: str, api_version: str) -> None:
    """Print the JSON Schema of a rule KIND, or of events/TYPE or actions/TYPE."""
    if api_version not in API_VERSIONS:
        raise UsageError(f"unknown apiVersion '{api_version}'; known: {', '.join(API_VERSIONS)}")
    version = API_VERSIONS[api_version]
    if "/" in kind:
        family, _, name = kind.partition("/")
        path = SCHEMA_ROOT / family / version / f"{name}.json"
    else:
        path = SCHEMA_ROOT / version / f"{kind}.json"
    if not path.is_file():
        raise UsageError(f"no schema for '{kind}'; rule kinds: {', '.join(KINDS)}; "
                         "or events/TYPE, actions/TYPE")
    click.echo(path.read_text(encoding="utf-8"), nl=False)


@cli.command()
@click.argument("rules")
@click.option("--events", "events_path", required=True, help="NDJSON file of events")
@click.option("--from", "start", required=True, help="first day (agency time), YYYY-MM-DD")
@click.option("--until", "end", required=True, help="last day (agency time), YYYY-MM-DD")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "table"]), default="ndjson",
              show_default=True)
def simulate(rules: str, events_path: str, start: str, end: str, fmt: str) -> None:
    """Replay events on a simulated clock and print every action in time order."""
    # Imported here so `validate` (run on every commit by ops) starts fast.
    from engine.core.replay import read_events, replay
    from engine.core.tables import action_rows, render_table
    from engine.model.actions import dump_action

    ruleset = load_rules(rules)
    first, last = parse_day(start, "--from"), parse_day(end, "--until")
    events = list(read_events(events_path))
    show_progress = sys.stderr.isatty() and len(events) > PROGRESS_THRESHOLD
    with click.progressbar(length=len(events), label="replaying", file=sys.stderr,
                           hidden=not show_progress) as bar:
        done = [0]

        def advance(count: int) -> None:
            bar.update(count - done[0])
            done[0] = count

        result = replay(ruleset, events, first, last, on_progress=advance)
    if fmt == "ndjson":
        for action in result.actions:
            sys.stdout.write(dump_action(action) + "\n")
    else:
        click.echo(render_table(action_rows(result.actions)))
    for error in result.errors:
        click.echo(str(error), err=True)
    if result.errors:
        sys.exit(1)


@cli.command()
@click.argument("kind", type=click.Choice(REPORT_KINDS))
@click.option("--rules", default=DEFAULT_RULES, show_default=True, help="rule folder")
@click.option("--events", "events_path", help="NDJSON file of events to replay")
@click.option("--db", help="the daemon's store to report on (instead of --events)")
@click.option("--from", "start", help="first day of the period; default: January 1 of --as-of")
@click.option("--as-of", "as_of", help="last day (agency time), YYYY-MM-DD; default: today")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def report(kind: str, rules: str, events_path: str | None, db: str | None, start: str | None,
           as_of: str | None, fmt: str) -> None:
    """Collections reports over a replay (--events) or the daemon's store (--db)."""
    if (events_path is None) == (db is None):
        raise UsageError("give --events FILE (a replay) or --db STORE (the daemon's), not both")
    ruleset = load_rules(rules)
    first = parse_day(start, "--from") if start else None
    last = parse_day(as_of, "--as-of") if as_of else None
    if db is not None:
        from engine.cli_daemon import open_existing_store
        from engine.reports.command import store_report

        store = open_existing_store(db)
        try:
            run = store_report(ruleset, kind, store, fmt=fmt, start=first, as_of=last)
        finally:
            store.close()
    else:
        run = run_report(ruleset, kind, events_path, fmt=fmt, start=first, as_of=last)
    click.echo(run.output)
    for error in run.errors:
        click.echo(str(error), err=True)
    if run.errors:
        sys.exit(1)


register_daemon_commands(cli)
cli.add_command(test_command)
cli.add_command(connectors)
cli.add_command(connect)
cli.add_command(plan)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: usage errors exit 2, invalid input 1, and nothing prints a traceback."""
    try:
        cli.main(args=argv, prog_name="billflow", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UsageError as exc:
        click.echo(f"billflow: {exc}", err=True)
        sys.exit(2)
    except RuleSetInvalid as exc:
        click.echo(f"billflow: {exc}", err=True)
        sys.exit(1)
    except BillflowError as exc:
        click.echo(f"billflow: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, never a traceback
        click.echo(f"billflow: internal error ({type(exc).__name__}: {exc}); please report it",
                   err=True)
        sys.exit(70)
    sys.exit(0)


if __name__ == "__main__":
    main()
