"""Build the typed Agency from its document, checking every value and reference."""

from __future__ import annotations

import string
from datetime import date

from jsonschema import Draft202012Validator

from connectors.catalog import connector_types
from engine.model.calendar import AgencyCalendar, is_holiday_calendar, is_timezone
from engine.model.duration import parse_duration
from engine.model.money import is_currency, CURRENCY_MINOR_UNITS
from engine.model.terms import parse_payment_terms
from engine.ruleset.context import BuildContext, Located
from engine.ruleset.schema_check import did_you_mean, schema_errors, schema_registry
from engine.ruleset.types import (
    Agency, AgencyDefaults, ConnectorConfig, Numbering, Person, frozen_mapping,
)
from engine.ruleset.yamlpos import YamlDocument

__all__ = ["build_agency", "check_currency", "DEFAULTS"]

DEFAULTS = {
    "payment_terms": "net_30",
    "approval_route": "default",
    "reminder_cadence": "standard",
    "send_within": "1 business day",
}
NUMBER_FIELDS = {"year", "month", "seq"}


# Listed first, so that among equally close codes the likelier one is suggested.
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK",
                     "NZD", "SGD", "HKD", "INR", "BRL", "MXN", "ZAR", "PLN", "CNY")


def check_currency(ctx: BuildContext, place: Located) -> str | None:
    """Check an ISO 4217 code at `place`; return it, or None when it is not one."""
    code = str(place.get())
    if is_currency(code):
        return code
    choices = (*COMMON_CURRENCIES, *CURRENCY_MINOR_UNITS)
    ctx.fail(place, f"'{code}' is not an ISO 4217 currency code"
                    f"{did_you_mean(code.upper(), choices) or did_you_mean(code, choices)}")
    return None


def _check_numbering(ctx: BuildContext, place: Located) -> Numbering:
    fmt = str(place.at("format").get() or "{year}-{seq:05d}")
    reset = place.at("reset").get() or "never"
    start = int(place.at("start").get() or 1)
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
    except ValueError as exc:
        ctx.fail(place.at("format"), f"'{fmt}' is not a valid number format: {exc}")
        return Numbering(fmt, reset, start)
    unknown = fields - NUMBER_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        ctx.fail(place.at("format"), f"unknown field '{{{name}}}' in the number format"
                                     f"{did_you_mean(name, NUMBER_FIELDS)}; use year, month and seq")
        return Numbering(fmt, reset, start)
    try:
        fmt.format(year=2026, month=1, seq=1)
    except (ValueError, KeyError, IndexError) as exc:
        ctx.fail(place.at("format"), f"'{fmt}' is not a valid number format: {exc}")
        return Numbering(fmt, reset, start)
    if "seq" not in fields:
        ctx.fail(place.at("format"), "the number format must contain {seq}, or every invoice "
                                     "would get the same number")
    if reset == "yearly" and "year" not in fields:
        ctx.fail(place.at("format"), "a yearly reset needs {year} in the format, or numbers "
                                     "repeat from one year to the next")
    return Numbering(fmt, reset, start)


def _people(ctx: BuildContext, place: Located) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for i, entry in enumerate(place.get() or []):
        here = place.at(i)
        person_id = str(entry["id"])
        if person_id in people:
            ctx.fail(here.at("id"), f"person id '{person_id}' is used twice")
            continue
        email = str(entry.get("email", ""))
        if "@" not in email:
            ctx.fail(here.at("email"), f"'{email}' is not an e-mail address")
        people[person_id] = Person(person_id, str(entry.get("name", person_id)), email,
                                   tuple(str(role) for role in entry.get("roles", [])))
    return people


def _connectors(ctx: BuildContext, place: Located) -> dict[str, ConnectorConfig]:
    known = connector_types()
    result: dict[str, ConnectorConfig] = {}
    for name, options in (place.get() or {}).items():
        here = place.at(name)
        kind = str(options.get("type"))
        if kind not in known:
            ctx.fail(here.at("type"), f"unknown connector type '{kind}'{did_you_mean(kind, known)}; "
                                      f"known types: {', '.join(known)}")
            continue
        validator = Draft202012Validator(known[kind].config_schema, registry=schema_registry())
        ctx.errors.extend(schema_errors(here.doc, validator, here.path))
        result[name] = ConnectorConfig(name, kind, frozen_mapping(
            {key: value for key, value in options.items() if key != "type"}))
    return result


def _routing(ctx: BuildContext, place: Located,
             connectors: dict[str, ConnectorConfig]) -> dict[str, tuple[str, ...]]:
    known = connector_types()
    routing: dict[str, tuple[str, ...]] = {}
    for action_type, names in (place.get() or {}).items():
        resolved = []
        for i, name in enumerate(names):
            here = place.at(action_type, i)
            if ctx.reference(here, ctx.index.connectors, "connector") is None:
                continue
            config = connectors.get(name)
            if config is not None and action_type not in known[config.type].consumes:
                ctx.fail(here, f"connector '{name}' ({config.type}) does not carry out "
                               f"{action_type}")
            resolved.append(str(name))
        routing[action_type] = tuple(resolved)
    return routing


def build_agency(ctx: BuildContext, doc: YamlDocument) -> Agency:
    """Build the Agency; every problem is recorded in `ctx`."""
    spec = Located(doc, ("spec",))
    timezone = str(spec.at("timezone").get())
    if not is_timezone(timezone):
        # The calendar's own message names the closest zone.
        ctx.parse(spec.at("timezone"), lambda name: AgencyCalendar(str(name)), None)
        timezone = "UTC"
    holidays = spec.at("holidays").get()
    if holidays is not None and not is_holiday_calendar(str(holidays)):
        ctx.fail(spec.at("holidays"), f"'{holidays}' is not a known holiday calendar "
                                      "(a country code such as US or GB, or US-NY)")
        holidays = None
    currency = check_currency(ctx, spec.at("currency")) or "XXX"
    go_live: date | None = ctx.date(spec.at("go_live"))
    books_close_after = ctx.duration(spec.at("books_close_after"))
    if books_close_after is not None and (books_close_after.amount < 1 or
                                          books_close_after.unit in ("minutes", "hours")):
        ctx.fail(spec.at("books_close_after"), f"books_close_after is {books_close_after}: a "
                 "month's books close a positive number of days, weeks or business days "
                 "after it ends (e.g. 60d)")
        books_close_after = None

    defaults_place = spec.at("defaults")
    given = defaults_place.get() or {}
    fallback_terms = parse_payment_terms(DEFAULTS["payment_terms"])
    terms_place = defaults_place.at("payment_terms")
    terms = (ctx.parse(terms_place, parse_payment_terms, fallback_terms)
             if terms_place.get() is not None else fallback_terms)
    for key, known, what in (("approval_route", ctx.index.approval_routes, "approval route"),
                             ("reminder_cadence", ctx.index.reminder_cadences, "reminder cadence")):
        if key in given:
            ctx.reference(defaults_place.at(key), known, what)
    send_within = ctx.duration(defaults_place.at("send_within")) or parse_duration(
        DEFAULTS["send_within"])
    defaults = AgencyDefaults(
        payment_terms=terms,
        approval_route=str(given.get("approval_route", DEFAULTS["approval_route"])),
        reminder_cadence=str(given.get("reminder_cadence", DEFAULTS["reminder_cadence"])),
        send_within=send_within,
    )
    connectors = _connectors(ctx, spec.at("connectors"))
    return Agency(
        id=str(doc.data["metadata"]["id"]),
        name=str(doc.data["metadata"].get("name", doc.data["metadata"]["id"])),
        calendar=AgencyCalendar(timezone, str(holidays) if holidays else None),
        currency=currency,
        go_live=go_live,
        numbering=_check_numbering(ctx, spec.at("invoice_numbering")),
        defaults=defaults,
        people=frozen_mapping(_people(ctx, spec.at("people"))),
        connectors=frozen_mapping(connectors),
        routing=frozen_mapping(_routing(ctx, spec.at("routing"), connectors)),
        payment_instructions=spec.at("payment_instructions").get(),
        address=spec.at("address").get(),
        source=ctx.source(Located(doc, ())),
        books_close_after=books_close_after,
    )
