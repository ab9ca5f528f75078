"""What several command modules share: loading the rules, reading a day option."""

from __future__ import annotations

from datetime import date

import click

from engine.errors import RuleSetInvalid, UsageError
from engine.ruleset.loader import check_ruleset
from engine.ruleset.types import RuleSet

__all__ = ["load_rules", "parse_day"]


def load_rules(rules: str) -> RuleSet:
    """Load a rule folder for a command; invalid rules print every error and exit 1."""
    ruleset, errors = check_ruleset(rules)
    if ruleset is None:
        for error in errors:
            click.echo(str(error), err=True)
        raise RuleSetInvalid(errors)
    return ruleset


def parse_day(value: str, option: str) -> date:
    """Read a YYYY-MM-DD option value; a bad one is a usage error naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None
