"""`billflow connectors`: what each connector type consumes and produces; check credentials."""

from __future__ import annotations

import sys

import click

__all__ = ["connectors"]


@click.group(invoke_without_command=True)
@click.pass_context
def connectors(ctx: click.Context) -> None:
    """List every connector type with the actions it carries out and the events it produces."""
    if ctx.invoked_subcommand is not None:
        return
    from connectors.registry import ConnectorRegistry

    registry = ConnectorRegistry.discover()
    for kind in registry.types():
        cls = registry.connector_class(kind)
        click.echo(f"{kind}")
        click.echo(f"  consumes: {', '.join(sorted(cls.consumes)) or '-'}")
        click.echo(f"  produces: {', '.join(sorted(cls.produces)) or '-'}")
    for problem in registry.problems:
        click.echo(f"not loaded: {problem}", err=True)


@connectors.command()
@click.argument("rules", default="rules", metavar="[RULES]")
def check(rules: str) -> None:
    """Build each of the Agency's connectors and verify its configuration and credentials."""
    from connectors.base import ConnectorContext
    from connectors.registry import ConnectorRegistry
    from engine.cli_common import load_rules
    from engine.errors import ConnectorError

    ruleset = load_rules(rules)
    registry = ConnectorRegistry.discover()
    failed = 0
    for name, config in ruleset.agency.connectors.items():
        try:
            with registry.build(config, ConnectorContext(ruleset)) as connector:
                click.echo(f"{name} ({config.type}): {connector.check()}")
        except ConnectorError as exc:
            failed += 1
            click.echo(f"{name} ({config.type}): FAILED — {exc}", err=True)
    if failed:
        sys.exit(1)
