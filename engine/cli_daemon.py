"""The daemon's commands: `run`, and the commands that feed or read its store.

`--db` defaults to `$BILLFLOW_DB`, else `.billflow/store.db` — the store `run` uses when
started from the same folder.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import click

from engine.errors import UsageError

__all__ = ["register"]

DEFAULT_DB = ".billflow/store.db"

db_option = click.option("--db", default=lambda: os.environ.get("BILLFLOW_DB", DEFAULT_DB),
                         show_default="$BILLFLOW_DB or .billflow/store.db",
                         help="the store: a SQLite file path or sqlite:///path")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def open_existing_store(db: str) -> Any:
    from engine.runtime.store import open_store

    if not db.startswith(("sqlite:", "postgresql:")) and not Path(db).exists():
        raise UsageError(f"no store at {db}: start `billflow run` first, or pass --db")
    return open_store(db)


def _go_live_day(text: str) -> date:
    """Read `--go-live`: an ISO date, or days back from today such as `-30d`."""
    from engine.model.duration import parse_duration

    try:
        if text.startswith("-"):
            return date.today() + parse_duration(text).as_timedelta()
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--go-live {text!r} is neither a date (YYYY-MM-DD) nor days back "
                         "such as -30d") from None


@click.command()
@click.argument("rules")
@db_option
@click.option("--http", "http_address", default="127.0.0.1:8787", show_default=True,
              help="host:port of the HTTP surface")
@click.option("--no-http", is_flag=True, help="run without the HTTP surface")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--go-live", "go_live", default=None, metavar="DATE|-Nd",
              help="first start only: bill triggers from this day on, a date or a number of "
                   "days back such as -30d (default: today)")
@click.option("--public-url", default=None, metavar="URL",
              help="the address people reach the pages at, for links in mail "
                   "(default: http://HOST:PORT of --http)")
@click.option("--approval-ttl", default="7d", show_default=True, metavar="DURATION",
              help="how long an approval link stays valid after approval was requested")
@click.option("--forwarded-allow-ips", default=None, metavar="IPS",
              help="trust X-Forwarded-* headers from these proxy addresses (comma-separated)")
def run(rules: str, db: str, http_address: str, no_http: bool, log_format: str,
        go_live: str | None, public_url: str | None, approval_ttl: str,
        forwarded_allow_ips: str | None) -> None:
    """Run the daemon: intake, decisions, dispatch, hot reload, HTTP."""
    from engine.runtime.daemon import Daemon, DaemonOptions, write_token_file
    from engine.runtime.http import parse_address
    from engine.runtime.logs import configure_logging
    from engine.web.settings import WebOptions

    configure_logging(log_format)
    Path(db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        address = None if no_http else parse_address(http_address)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    first_day = _go_live_day(go_live) if go_live else None
    web = WebOptions(public_url=public_url, approval_ttl=_duration("--approval-ttl", approval_ttl),
                     forwarded_allow_ips=forwarded_allow_ips)
    daemon = Daemon(DaemonOptions(rules=rules, db=db, http=address,
                                  token=os.environ.get("BILLFLOW_TOKEN"), go_live=first_day,
                                  web=web))
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    daemon.start()
    token_file = write_token_file(db, daemon.token)
    click.echo(f"billflow is running on {rules} (rules {daemon.keeper.active.version}); "
               f"store {db}", err=True)
    if daemon.http is not None:
        click.echo(f"  events: POST {daemon.http.url}/events with the bearer token in "
                   f"{token_file}; health: {daemon.http.url}/healthz", err=True)
        assert daemon.web is not None
        click.echo(f"  pages: {daemon.web.public_url}/signin; links are signed with the key "
                   f"from {daemon.web.secret_source}", err=True)
    outputs = sorted({str(c.options.get("dir")) for c in daemon.keeper.active.agency.connectors.values()
                      if c.type == "files"})
    if outputs:
        click.echo(f"  invoices and mail are written under: {', '.join(outputs)}", err=True)
    daemon.wait()
    daemon.stop()


def _duration(option: str, text: str):
    from engine.model.duration import parse_duration

    try:
        return parse_duration(text).as_timedelta()
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a duration such as 7d or 48h") from None


@click.command("web-token")
@click.argument("person", metavar="PERSON")
@click.option("--rules", default=None, help="the rule folder, to check that PERSON is in it")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650),
              help="how long the token stays valid")
@db_option
def web_token(person: str, rules: str | None, days: int, db: str) -> None:
    """Print a personal token: `Authorization: Bearer` for the JSON API, or to sign in."""
    from datetime import timedelta

    from engine.web.auth import person_token
    from engine.web.settings import WebOptions, resolve_settings

    if rules is not None:
        from engine.cli_common import load_rules

        people = load_rules(rules).agency.people
        if person not in people:
            raise UsageError(f"'{person}' is not a person of the Agency in {rules}")
    settings = resolve_settings(WebOptions(person_token_ttl=timedelta(days=days)), db=db,
                                http=None)
    click.echo(person_token(settings, person, _now()))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@click.option("--from", "source_format", default="ndjson", show_default=True,
              type=click.Choice(["ndjson", "harvest-csv", "toggl-csv"]),
              help="the file's format: billflow events, or a Harvest or Toggl detailed time export")
@click.option("--rules", default="rules", show_default=True,
              help="with a CSV export: the rule folder whose clients, people and map apply")
@click.option("--map", "map_file", default=None, metavar="FILE",
              help="with a CSV export: a YAML/JSON map (projects, people, roles) instead of "
                   "the Agency connector's")
@click.option("--connector", default=None, metavar="NAME",
              help="with a CSV export: the Agency connector whose map applies")
def ingest(file: str, db: str, source_format: str, rules: str, map_file: str | None,
           connector: str | None) -> None:
    """Feed the events of an NDJSON (or JSON) file, or a time export, to the daemon's store."""
    from engine.runtime.intake import ingest_text
    from engine.runtime.store import open_store

    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read it ({exc})") from None
    bad_rows: tuple[str, ...] = ()
    if source_format != "ndjson":
        from connectors.imports.command import as_ndjson, import_export
        from engine.cli_common import load_rules

        imported = import_export(source_format, text, file, load_rules(rules),
                                 at=_now().isoformat(), map_file=map_file, connector=connector)
        text, bad_rows = as_ndjson(imported), imported.errors
        for line in imported.iter_lines():
            click.echo(line, err=True)
    Path(db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(db)
    try:
        result = ingest_text(store, text, file, _now())
    finally:
        store.close()
    for error in result.errors:
        click.echo(error, err=True)
    if bad_rows:
        result = type(result)(result.accepted, result.duplicates, (*bad_rows, *result.errors))
    click.echo(f"{file}: {result.accepted} events stored, {result.duplicates} already known, "
               f"{len(result.errors)} rejected")
    if result.errors:
        sys.exit(1)


def _human_event(db: str, kind: str, payload: dict[str, Any]) -> None:
    from engine.runtime.intake import ingest_text

    now = _now()
    event = {"id": f"cli:{kind}:{payload['invoice']}:{now.strftime('%Y%m%dT%H%M%S%f')}",
             "type": kind, "at": now.isoformat(), "payload": payload}
    store = open_existing_store(db)
    try:
        result = ingest_text(store, json.dumps(event), "cli", now)
    finally:
        store.close()
    if result.errors:
        for error in result.errors:
            click.echo(error, err=True)
        sys.exit(1)
    click.echo(f"{kind} recorded for {payload['invoice']}; the daemon decides what follows")


@click.command()
@click.argument("invoice_id", metavar="ID")
@click.option("--by", required=True, help="the approving person's id")
@click.option("--comment", default=None)
@db_option
def approve(invoice_id: str, by: str, comment: str | None, db: str) -> None:
    """Approve a draft waiting for approval."""
    payload = {"invoice": invoice_id, "by": by}
    if comment:
        payload["comment"] = comment
    _human_event(db, "invoice.approved", payload)


@click.command()
@click.argument("invoice_id", metavar="ID")
@click.option("--by", required=True, help="the flagging person's id")
@click.option("--comment", required=True, help="what needs changing")
@db_option
def flag(invoice_id: str, by: str, comment: str, db: str) -> None:
    """Send a draft back to its author for edits."""
    _human_event(db, "invoice.flagged", {"invoice": invoice_id, "by": by, "comment": comment})


@click.command()
@click.argument("action_id", metavar="ACTION_ID")
@db_option
def retry(action_id: str, db: str) -> None:
    """Queue a dead-lettered action's deliveries again."""
    store = open_existing_store(db)
    try:
        count = store.retry_dead(action_id, _now())
    finally:
        store.close()
    if count == 0:
        raise UsageError(f"no dead delivery for action '{action_id}'")
    click.echo(f"{action_id}: {count} delivery queued again")


@click.command()
@click.argument("action_id", metavar="ACTION_ID")
@db_option
@click.option("--rules", default=None, help="replay mode: the rule folder to replay")
@click.option("--events", "events_path", default=None,
              help="replay mode: the NDJSON events to replay (instead of the store)")
@click.option("--from", "start", default=None,
              help="replay mode: first day (agency time); default: the earliest event's day")
@click.option("--until", "end", default=None,
              help="replay mode: last day (agency time); default: the latest event's day")
def explain(action_id: str, db: str, rules: str | None, events_path: str | None,
            start: str | None, end: str | None) -> None:
    """Say which event or timer, rule and rule version caused an action, and what its
    conditions saw; from the daemon's store, or from a replay (--rules and --events)."""
    from engine.runtime.status import explain_action

    if rules is not None or events_path is not None:
        from engine.cli_explain import explain_from_replay

        click.echo(explain_from_replay(action_id, rules, events_path, start, end))
        return
    if start is not None or end is not None:
        raise UsageError("--from and --until go with a replay: give --rules and --events too")
    store = open_existing_store(db)
    try:
        click.echo(explain_action(store, action_id))
    finally:
        store.close()


@click.command()
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def status(db: str, fmt: str) -> None:
    """What is billed, awaiting approval, overdue, dead-lettered; the rules in force."""
    from engine.runtime.status import store_status

    store = open_existing_store(db)
    try:
        report = store_status(store, _now())
    finally:
        store.close()
    click.echo(json.dumps(report.as_json(), indent=2) if fmt == "json" else report.as_text())


def register(group: click.Group) -> None:
    """Add the daemon's commands to the CLI."""
    for command in (run, ingest, approve, flag, retry, explain, status, web_token):
        group.add_command(command)
