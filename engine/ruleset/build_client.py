"""Build typed Clients and their engagements, checking values, references and sums."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.model.calendar import parse_billing_day
from engine.model.money import is_currency, minor_units, round_money
from engine.model.terms import PaymentTerms, parse_payment_terms
from engine.ruleset.build_agency import check_currency
from engine.ruleset.context import BuildContext, Located
from engine.ruleset.schema_check import did_you_mean
from engine.ruleset.types import (
    Agency, Client, Contact, Engagement, Milestone, ProjectFixed, RateCard, Retainer, Revision,
    Tax, TimeAndMaterials, frozen_mapping,
)
from engine.ruleset.yamlpos import YamlDocument

__all__ = ["build_client"]

_HUNDRED = Decimal(100)


def _amount(ctx: BuildContext, place: Located, currency: str) -> Decimal | None:
    """Return the money at `place`, checking it fits the currency's minor units."""
    value = ctx.money(place)
    if value is None:
        return None
    if value < 0:
        ctx.fail(place, f"{value} is negative; amounts are never below zero")
    elif is_currency(currency) and round_money(value, currency) != value:
        ctx.fail(place, f"{value} has more decimal places than {currency} allows "
                        f"({minor_units(currency)})")
    return value


def _rate(ctx: BuildContext, place: Located) -> Decimal | None:
    """Return a unit rate; rates may carry more precision than the currency (lines round)."""
    value = ctx.money(place)
    if value is not None and value < 0:
        ctx.fail(place, f"{value} is negative; a rate is never below zero")
    return value


def _rate_card(ctx: BuildContext, place: Located) -> RateCard | None:
    card = place.get()
    if card is None:
        return None
    people: dict[str, Decimal] = {}
    for person in card.get("people") or {}:
        if person not in ctx.index.people:
            ctx.fail(place.at("people", person), f"unknown person '{person}'"
                                                 f"{did_you_mean(person, ctx.index.people)}")
        people[person] = _rate(ctx, place.at("people", person)) or Decimal(0)
    roles = {role: _rate(ctx, place.at("roles", role)) or Decimal(0)
             for role in card.get("roles") or {}}
    return RateCard(_rate(ctx, place.at("default")) or Decimal(0),
                    frozen_mapping(roles), frozen_mapping(people))


def _milestones(ctx: BuildContext, place: Located, fee: Decimal | None,
                currency: str) -> tuple[Milestone, ...]:
    result: list[Milestone] = []
    seen: set[str] = set()
    for i, entry in enumerate(place.get() or []):
        here = place.at(i)
        milestone_id = str(entry["id"])
        if milestone_id in seen:
            ctx.fail(here.at("id"), f"milestone id '{milestone_id}' is used twice")
        seen.add(milestone_id)
        percent = ctx.money(here.at("percent")) if "percent" in entry else None
        amount = _amount(ctx, here.at("amount"), currency) if "amount" in entry else None
        result.append(Milestone(milestone_id, str(entry.get("name", milestone_id)), percent, amount))
    if not result:
        return ()
    with_percent = [m for m in result if m.percent is not None]
    with_amount = [m for m in result if m.amount is not None]
    if with_percent and with_amount:
        ctx.fail(place, "give every milestone a percent, or every milestone an amount, not a mix")
    elif with_percent:
        total = sum((m.percent for m in with_percent), Decimal(0))
        if total != _HUNDRED:
            ctx.fail(place, f"the milestone percentages add up to {total.normalize():f}, not 100")
    elif with_amount and fee is not None:
        total = sum((m.amount for m in with_amount), Decimal(0))
        if total != fee:
            ctx.fail(place, f"the milestone amounts add up to {total}, not the fee {fee}")
    return tuple(result)


# Revisions carry engagement fields; each is parsed the way the engagement itself parses it.
def _revision_value(ctx: BuildContext, place: Located, key: str, currency: str) -> Any:
    if key in ("amount", "fee", "cap"):
        return _amount(ctx, place, currency)
    if key in ("overage_rate", "included_hours"):
        return ctx.money(place)
    if key == "rate_card":
        return _rate_card(ctx, place)
    if key == "increment_minutes":
        return int(place.get())
    if key == "expenses":
        return ctx.money(place.at("markup_percent"))
    return place.get()


_REVISION_FIELDS = {"expenses": "expense_markup_percent"}


def _revisions(ctx: BuildContext, place: Located, currency: str) -> tuple[Revision, ...]:
    revisions: list[Revision] = []
    for i, entry in enumerate(place.get() or []):
        here = place.at(i)
        effective = ctx.date(here.at("effective"))
        if effective is None:
            continue
        if any(r.effective == effective for r in revisions):
            ctx.fail(here.at("effective"), f"two revisions take effect on {effective}")
            continue
        values = {_REVISION_FIELDS.get(key, key): _revision_value(ctx, here.at(key), key, currency)
                  for key in entry if key != "effective"}
        revisions.append(Revision(effective, frozen_mapping(values), ctx.source(here)))
    return tuple(sorted(revisions, key=lambda r: r.effective))


def _engagement(ctx: BuildContext, place: Located, client_id: str, currency: str) -> Engagement:
    entry = place.get()
    start, end = ctx.date(place.at("start")), ctx.date(place.at("end"))
    if start and end and end < start:
        ctx.fail(place.at("end"), f"the engagement ends ({end}) before it starts ({start})")
    common: dict[str, Any] = dict(
        id=str(entry["id"]), client=client_id,
        projects=tuple(str(p) for p in entry.get("projects") or ()),
        start=start, end=end, revisions=_revisions(ctx, place.at("revisions"), currency),
        source=ctx.source(place),
    )
    billing_day = (ctx.parse(place.at("billing_day"), parse_billing_day, None)
                   if "billing_day" in entry else None)
    model = entry["model"]
    if model == "retainer":
        included = ctx.money(place.at("included_hours"))
        overage = _rate(ctx, place.at("overage_rate"))
        if overage is not None and included is None:
            ctx.fail(place.at("overage_rate"), "overage_rate needs included_hours: overage is "
                                               "billed for hours above them")
        return Retainer(**common, amount=_amount(ctx, place.at("amount"), currency) or Decimal(0),
                        billing_day=billing_day, bill=entry.get("bill", "in_advance"),
                        included_hours=included, overage_rate=overage,
                        proration=entry.get("proration", "calendar_days"))
    if model == "project_fixed":
        fee = _amount(ctx, place.at("fee"), currency)
        return ProjectFixed(**common, fee=fee or Decimal(0),
                            milestones=_milestones(ctx, place.at("milestones"), fee, currency))
    return TimeAndMaterials(
        **common, cadence=entry.get("cadence", "monthly"), billing_day=billing_day,
        rate_card=_rate_card(ctx, place.at("rate_card")),
        increment_minutes=int(entry.get("increment_minutes", 0)),
        group_by=entry.get("group_by", "role"),
        cap=_amount(ctx, place.at("cap"), currency),
        cap_policy=entry.get("cap_policy", "warn"),
        expense_markup_percent=ctx.money(place.at("expenses", "markup_percent")),
    )


def _tax(ctx: BuildContext, place: Located) -> Tax:
    value = place.get()
    if value is None or value == "exempt":
        return Tax(None, None)
    rate = ctx.money(place.at("rate"))
    if rate is not None and not (Decimal(0) <= rate <= _HUNDRED):
        ctx.fail(place.at("rate"), f"a tax rate of {rate}% is outside 0..100")
    return Tax(rate, value.get("label"))


def build_client(ctx: BuildContext, doc: YamlDocument, agency: Agency | None) -> Client:
    """Build one Client; every problem is recorded in `ctx`."""
    spec = Located(doc, ("spec",))
    data = spec.get()
    client_id = str(doc.data["metadata"]["id"])
    # An invalid code is reported once; the build goes on, without precision checks.
    currency = ((check_currency(ctx, spec.at("currency")) or "XXX") if "currency" in data
                else agency.currency if agency else "USD")
    lead = ctx.reference(spec.at("account_lead"), ctx.index.people, "person")
    terms: PaymentTerms | None = None
    if "payment_terms" in data:
        terms = ctx.parse(spec.at("payment_terms"), parse_payment_terms, None)
    route = data.get("approval_route") or (agency.defaults.approval_route if agency else "default")
    cadence = (data.get("reminder_cadence")
               or (agency.defaults.reminder_cadence if agency else "standard"))
    for key, value, known, what in (
        ("approval_route", route, ctx.index.approval_routes, "approval route"),
        ("reminder_cadence", cadence, ctx.index.reminder_cadences, "reminder cadence"),
    ):
        if key in data:
            ctx.reference(spec.at(key), known, what)
        elif value not in known:
            ctx.fail(spec, f"uses the agency's default {what} '{value}', which is not declared; "
                           f"declare it or set {key} here")
    escalations = None
    if "escalation_rules" in data:
        escalations = tuple(
            ctx.reference(spec.at("escalation_rules", i), ctx.index.escalation_rules,
                          "escalation rule") or ""
            for i in range(len(data["escalation_rules"])))
    engagements: dict[str, Engagement] = {}
    for i, entry in enumerate(data.get("engagements") or []):
        here = spec.at("engagements", i)
        engagement = _engagement(ctx, here, client_id, currency)
        if engagement.id in engagements:
            ctx.fail(here.at("id"), f"engagement id '{engagement.id}' is used twice in this client")
            continue
        engagements[engagement.id] = engagement
    contacts = tuple(Contact(str(c.get("name", "")), str(c["email"]))
                     for c in (data.get("contacts") or {}).get("billing") or [])
    for i, contact in enumerate(contacts):
        if "@" not in contact.email:
            ctx.fail(spec.at("contacts", "billing", i, "email"),
                     f"'{contact.email}' is not an e-mail address")
    return Client(
        id=client_id,
        name=str(doc.data["metadata"].get("name", client_id)),
        account_lead=lead or "",
        billing_contacts=contacts,
        currency=currency,
        tax=_tax(ctx, spec.at("tax")),
        payment_terms=terms or (agency.defaults.payment_terms if agency
                                else parse_payment_terms("net_30")),
        reminder_cadence=str(cadence),
        approval_route=str(route),
        escalation_rules=escalations,
        external_ids=frozen_mapping({k: str(v) for k, v in (data.get("external_ids") or {}).items()}),
        engagements=frozen_mapping(engagements),
        source=ctx.source(Located(doc, ())),
    )
