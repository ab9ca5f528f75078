"""A synthetic agency for benchmarks: its rule folder and a stream of its events.

`SyntheticAgency(clients=500, events=1_000_000)` draws, from one fixed seed and no clock:

- about 60 people (finance, partners, account leads, strategists, designers, developers,
  copywriters, producers);
- the clients: a mix of retainers (some with included hours and an overage rate, some in
  arrears, some starting or ending inside the period, some with a new amount from a date),
  fixed-fee projects paid by milestone, and time and materials (monthly on various billing
  days, a few on approval), in USD, EUR, GBP, CAD and JPY, with taxes, payment terms, a team
  each, and a way of paying (by invoice number, by exact amount, by name only, monthly
  remittances, instalments; punctual, slow or late);
- approval routes, reminder cadences and escalation rules like a real agency's, and books
  that close 45 days after each month ends (`books_close_after`).

`write_rules(directory)` writes it as a rule folder. `EventStream(agency)` is a generator of
`agency.events` events as dicts (JSON-ready), in time order, over `months` months from
`start`: mostly `time.approved` (timesheets approved through the day, each entry about 300
bytes of JSON), some `expense.approved`, `milestone.completed`, unapprovals with corrected
re-approvals, a few repeated deliveries. Nothing is held for the whole run: a day's events
at a time, plus what is scheduled for later.

The stream can react to the engine (`reactions.Reactions`, wired in by `EventStream`): hand
`stream.on_action` to `replay(..., on_action=...)` and the approvers approve (or flag) the
drafts they are asked about, and the clients pay what is issued to them, later in the
stream. The stream is lazy, so a reaction to an event's actions is in time for the events
after it.
"""

from __future__ import annotations

import heapq
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from engine.model.calendar import AgencyCalendar  # noqa: E402

__all__ = ["SyntheticAgency", "EventStream", "SEED", "START", "MONTHS"]

SEED = 20_260_101
START = date(2026, 1, 1)
MONTHS = 24
TIMEZONE = "America/New_York"
ZONE = ZoneInfo(TIMEZONE)
HOLIDAYS = "US"
EPOCH = datetime(1970, 1, 1)

# Role of each member of staff, in order (60 people).
STAFF = (("finance", 3), ("partner", 3), ("account_lead", 10), ("strategist", 8),
         ("designer", 14), ("developer", 12), ("copywriter", 6), ("producer", 4))
PRODUCTION_ROLES = ("strategist", "designer", "developer", "copywriter", "producer")
FIRST_NAMES = (
    "ada", "ben", "cara", "dev", "elena", "farid", "gwen", "hugo", "iris", "jonah", "kira",
    "liam", "mona", "nico", "olga", "paulo", "quinn", "rosa", "samir", "tess", "umar", "vera",
    "wade", "xena", "yusuf", "zara", "abel", "bianca", "cyrus", "dalia", "emil", "fiona",
    "gideon", "hanna", "ivan", "jade", "kofi", "lena", "milo", "nadia", "oscar", "priya",
    "rafael", "sofia", "tariq", "ursula", "victor", "wanda", "yara", "zeke", "amira", "bruno",
    "chloe", "dmitri", "esme", "felipe", "greta", "hiro", "ines", "jasper",
)
SURNAMES = (
    "Abbott", "Banerjee", "Castillo", "Dubois", "Eriksen", "Fontaine", "Garcia", "Hoffmann",
    "Ibrahim", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
)
ROLE_TASKS = {
    "strategist": ("Strategy", "Workshops", "Reporting", "Research"),
    "designer": ("Design", "Revisions", "Art direction"),
    "developer": ("Development", "QA", "Code review", "Deployment"),
    "copywriter": ("Copywriting", "Editing", "Proofreading"),
    "producer": ("Production", "Project management", "Scheduling"),
    "account_lead": ("Account management", "Client calls"),
}
ROLE_NOTES = {
    "strategist": ("Monthly performance review", "Audience research", "Planning workshop",
                   "Competitive audit", "Campaign brief", "Status call with client"),
    "designer": ("Round 2 revisions", "Social templates", "Landing page comps",
                 "Asset resizing for paid social", "Presentation deck"),
    "developer": ("Bug fixes on checkout", "Deploy to staging", "Analytics tagging",
                  "CMS updates", "Performance fixes"),
    "copywriter": ("Newsletter copy", "Caption drafts", "Web copy edits", "Press release draft"),
    "producer": ("Shoot scheduling", "Vendor calls", "Call sheet", "Budget tracking"),
    "account_lead": ("Weekly status call", "Client check-in", "Scope review"),
}
# Hours of one entry, with weights: mostly quarter hours, some tenths and thirds.
HOURS = (("0.25", 20), ("0.5", 24), ("0.75", 12), ("1.0", 16), ("1.25", 5), ("1.5", 8),
         ("2.0", 6), ("3.0", 3), ("0.1", 2), ("0.33", 2), ("1.2", 2))
MEAN_HOURS = sum(Decimal(h) * w for h, w in HOURS) / sum(w for _, w in HOURS)
ENTRIES_PER_TIMESHEET = ((1, 10), (2, 25), (3, 30), (4, 20), (5, 10), (6, 5))
NON_BILLABLE_SHARE = 0.07
NOTES_SHARE = 0.35
EXPENSE_SHARE = 0.012
UNAPPROVE_SHARE = 0.001
REPEAT_SHARE = 0.0002

ADJECTIVES = (
    "amber", "atlas", "birch", "blue", "bright", "cedar", "cobalt", "copper", "crimson", "delta",
    "east", "ember", "fern", "golden", "granite", "harbor", "hazel", "iron", "ivory", "juniper",
    "lake", "linden", "maple", "meadow", "north", "oak", "onyx", "pine", "quarry", "raven",
    "river", "sage", "silver", "slate", "south", "summit", "tidal", "union", "valley", "willow",
)
NOUNS = (
    "analytics", "bakery", "books", "brewing", "capital", "clinic", "coffee", "dental",
    "design", "energy", "fitness", "foods", "health", "hotels", "insurance", "labs", "legal",
    "logistics", "media", "mobility", "motors", "outfitters", "partners", "pharma", "press",
    "realty", "robotics", "schools", "skincare", "software", "sports", "studios", "supply",
    "telecom", "textiles", "therapy", "travel", "ventures", "wellness", "wines",
)
# Currency, share of clients, rough value of one US dollar, legal-form suffix.
CURRENCIES = (("USD", 70, Decimal("1"), "Inc."), ("EUR", 12, Decimal("0.95"), "GmbH"),
              ("GBP", 9, Decimal("0.8"), "Ltd"), ("CAD", 5, Decimal("1.35"), "Corp."),
              ("JPY", 4, Decimal("150"), "K.K."))
TERMS = (("net_30", 55), ("net_15", 15), ("net_45", 12), ("eom_30", 10), ("due_on_receipt", 8))
BILLING_DAYS = ((1, 30), (15, 15), (25, 5), ("last", 15), ("first_business_day", 15),
                ("last_business_day", 15), (31, 5))
RETAINER_IDS = ("social", "brand-care", "content", "growth", "performance", "community")
TM_IDS = ("adhoc", "support", "production", "dev-support")
PROJECT_IDS = ("website", "rebrand", "campaign", "app-launch", "annual-report", "packaging",
               "brand-film", "ecommerce")
MILESTONE_NAMES = ("Discovery", "Concepts", "Design sign-off", "Build", "Content", "Testing",
                   "Launch")
# How clients pay: by invoice number, exact amount with their id, by name or e-mail only,
# one monthly remittance, in two instalments.
PAYMENT_STYLES = (("reference", 55), ("exact", 20), ("payer", 8), ("batch", 10),
                  ("instalments", 7))
LATENESS = (("punctual", 70), ("slow", 22), ("late", 8))
# Time is approved within a week of the work: a month's books close 45 days after it ends.
BOOKS_CLOSE_AFTER = "45d"
EXPENSE_KINDS = (
    ("Stock photography licence", 80, 600), ("Courier: samples to the studio", 30, 180),
    ("Printing: posters and flyers", 250, 1800), ("Travel: train to client workshop", 60, 420),
    ("Hotel: shoot crew, one night", 180, 900), ("Camera and lighting rental", 300, 1600),
    ("User-testing incentives", 300, 1000), ("Font licence, web and print", 90, 480),
    ("Paid social test budget", 200, 2500), ("Catering, workshop day", 120, 650),
)


def weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    """Draw one value of a (value, weight) table."""
    return rng.choices([value for value, _ in table], [weight for _, weight in table])[0]


def money_text(amount: Decimal, currency: str) -> str:
    """Render an amount with the currency's minor units, as the events and rules write it."""
    unit = Decimal(1) if currency == "JPY" else Decimal("0.01")
    return str(amount.quantize(unit, rounding=ROUND_HALF_UP))


def _round_to(value: Decimal, step: Decimal) -> Decimal:
    return max(step, (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: tuple[str, ...]


@dataclass
class Engagement:
    id: str
    model: str  # retainer | project_fixed | time_and_materials
    projects: tuple[str, ...]
    document: dict[str, Any]
    cadence: str | None = None
    milestones: tuple[tuple[date, str], ...] = ()  # completions inside the period
    time_share: float = 1.0


@dataclass
class Client:
    id: str
    name: str
    currency: str
    fx: Decimal
    email: str
    account_lead: str
    payment_style: str
    lateness: str
    size: float
    engagements: list[Engagement] = field(default_factory=list)
    team: list[tuple[str, str, int]] = field(default_factory=list)  # person, role, weight
    document: dict[str, Any] = field(default_factory=dict)


class SyntheticAgency:
    """The whole synthetic agency; the same arguments always give the same agency."""

    def __init__(self, clients: int = 500, events: int = 1_000_000, *, seed: int = SEED,
                 start: date = START, months: int = MONTHS) -> None:
        self.seed, self.start, self.months, self.events = seed, start, months, events
        year, month = divmod(start.month - 1 + months, 12)
        self.end = date(start.year + year, month + 1, 1) - timedelta(days=1)
        self.calendar = AgencyCalendar(TIMEZONE, HOLIDAYS)
        rng = random.Random(seed)
        self.people = self._people()
        self.finance = tuple(p.id for p in self.people if "finance" in p.roles)
        self.partners = tuple(p.id for p in self.people if "partner" in p.roles)
        leads = [p.id for p in self.people if "account_lead" in p.roles]
        self.production = [(p.id, p.roles[0]) for p in self.people
                           if p.roles[0] in PRODUCTION_ROLES]
        names = [f"{a}-{n}" for a in ADJECTIVES for n in NOUNS]
        rng.shuffle(names)
        self.clients = [self._client(rng, i, names[i % len(names)] + (
            f"-{i // len(names) + 1}" if i >= len(names) else ""), leads)
            for i in range(clients)]
        self.by_id = {client.id: client for client in self.clients}
        self._plan_time()
        self._calibrate_included_hours(rng)

    # -- people and clients -------------------------------------------------------------

    @staticmethod
    def _people() -> list[Person]:
        people, index = [], 0
        for role, count in STAFF:
            for _ in range(count):
                first = FIRST_NAMES[index]
                roles = (role, "strategist") if role == "partner" and index % 2 else (role,)
                people.append(Person(first, f"{first.capitalize()} {SURNAMES[index % 16]}", roles))
                index += 1
        return people

    def _client(self, rng: random.Random, index: int, client_id: str,
                leads: list[str]) -> Client:
        currency, _, fx, suffix = weighted(rng, tuple((c, c[1]) for c in CURRENCIES))
        words = client_id.split("-")
        name = f"{words[0].capitalize()} {words[1].capitalize()} {suffix}"
        email = f"ap@{words[0]}{words[1]}.example"
        client = Client(client_id, name, currency, fx, email, leads[index % len(leads)],
                        weighted(rng, PAYMENT_STYLES), weighted(rng, LATENESS),
                        min(rng.paretovariate(1.3), 25.0))
        mix = rng.random()
        models = (["retainer"] if mix < 0.35 else ["time_and_materials"] if mix < 0.55
                  else ["retainer", "project_fixed"] if mix < 0.70
                  else ["time_and_materials", "project_fixed"] if mix < 0.82
                  else ["retainer", "time_and_materials"] if mix < 0.92 else ["project_fixed"])
        for person, role in rng.sample(self.production, rng.randint(2, 6)):
            client.team.append((person, role, rng.choice((1, 2, 3, 4))))
        if rng.random() < 0.2:
            client.team.append((client.account_lead, "account_lead", 1))
        for model in models:
            client.engagements.extend(self._engagements(rng, client, model))
        tax: Any = "exempt"
        if currency == "USD" and rng.random() < 0.4:
            tax = {"rate": "8.875", "label": "NY sales tax"}
        elif currency == "GBP" and rng.random() < 0.6:
            tax = {"rate": "20", "label": "UK VAT"}
        spec: dict[str, Any] = {
            "account_lead": client.account_lead,
            "contacts": {"billing": [{"name": "Accounts Payable", "email": email}]},
            "currency": currency, "tax": tax, "payment_terms": weighted(rng, TERMS),
        }
        if rng.random() < 0.15:
            spec["reminder_cadence"] = "gentle"
        if rng.random() < 0.06:
            spec["approval_route"] = "high-touch"
        spec["external_ids"] = {"harvest": 20_400_000 + index, "quickbooks": str(1000 + index)}
        spec["engagements"] = [e.document for e in client.engagements]
        client.document = {"apiVersion": "billflow/v1", "kind": "Client",
                           "metadata": {"id": client_id, "name": name}, "spec": spec}
        return client

    @staticmethod
    def _money(rng: random.Random, client: Client, low: int, high: int, step: int) -> str:
        """A round amount between low and high US dollars, in the client's currency."""
        usd = Decimal(rng.randrange(low, high + 1, step))
        unit = Decimal(1000) if client.currency == "JPY" else Decimal(step)
        return money_text(_round_to(usd * client.fx, unit), client.currency)

    def _engagements(self, rng: random.Random, client: Client, model: str) -> list[Engagement]:
        cid, span_days = client.id, (self.end - self.start).days
        if model == "retainer":
            eid = rng.choice(RETAINER_IDS)
            projects = (f"{cid}-{eid}",) + ((f"{cid}-{eid}-extra",) if rng.random() < 0.3 else ())
            doc: dict[str, Any] = {"id": eid, "model": "retainer",
                                   "amount": self._money(rng, client, 2500, 30000, 500),
                                   "billing_day": weighted(rng, BILLING_DAYS)}
            if rng.random() < 0.2:
                doc["bill"] = "in_arrears"
            if rng.random() < 0.4:
                doc["included_hours"] = 0  # calibrated once the time plan is known
                doc["overage_rate"] = self._money(rng, client, 120, 200, 5)
            begin = self.start - timedelta(days=rng.randint(30, 900))
            if rng.random() < 0.12 and span_days >= 60:
                begin = self.start + timedelta(days=rng.randint(20, span_days // 2))
            doc["start"] = begin.isoformat()
            if rng.random() < 0.08 and span_days >= 60:
                doc["end"] = (self.start + timedelta(days=rng.randint(span_days // 2,
                                                                      span_days - 20))).isoformat()
            if rng.random() < 0.1 and span_days >= 150:
                effective = self.start + timedelta(days=rng.randint(60, span_days - 60))
                doc["revisions"] = [{"effective": effective.replace(day=1).isoformat(),
                                     "amount": self._money(rng, client, 3000, 35000, 500)}]
            doc["projects"] = list(projects)
            return [Engagement(eid, model, projects, doc)]
        if model == "time_and_materials":
            eid = rng.choice(TM_IDS)
            cadence = "on_approval" if rng.random() < 0.07 else "monthly"
            base = Decimal(rng.randrange(120, 181, 5))
            roles = {role: self._money(rng, client, int(base) + d, int(base) + d, 5)
                     for role, d in (("strategist", 30), ("designer", 0), ("developer", 15),
                                     ("copywriter", -10), ("producer", -20))}
            card: dict[str, Any] = {"default": self._money(rng, client, int(base), int(base), 5),
                                    "roles": roles}
            if client.team and rng.random() < 0.4:
                card["people"] = {client.team[0][0]: self._money(rng, client, 220, 320, 5)}
            doc = {"id": eid, "model": "time_and_materials", "cadence": cadence}
            if cadence == "monthly":
                doc["billing_day"] = weighted(rng, BILLING_DAYS)
            doc["rate_card"] = card
            doc["increment_minutes"] = rng.choice((0, 6, 15, 15, 15))
            doc["group_by"] = weighted(rng, (("role", 45), ("person", 30), ("task", 20),
                                             ("entry", 5)))
            if rng.random() < 0.3:
                doc["cap"] = self._money(rng, client, 8000, 40000, 1000)
                doc["cap_policy"] = rng.choice(("warn", "clamp"))
            doc["expenses"] = {"markup_percent": rng.choice(("0", "10", "10", "15"))}
            doc["projects"] = [f"{cid}-{eid}"]
            return [Engagement(eid, model, (f"{cid}-{eid}",), doc, cadence,
                               time_share=0.6 if cadence == "on_approval" else 1.0)]
        found = []
        begin = self.start - timedelta(days=rng.randint(0, 120))
        for eid in rng.sample(PROJECT_IDS, rng.choice((1, 1, 2))):
            weeks = rng.randint(12, 60)
            count = rng.randint(2, 5)
            percents = self._split_100(rng, count)
            names = rng.sample(MILESTONE_NAMES, count)
            milestones = [{"id": f"m{i + 1}-{names[i].split()[0].lower()}", "name": names[i],
                           "percent": str(percents[i])} for i in range(count)]
            done, elapsed = [], 0
            for i, percent in enumerate(percents):
                elapsed += percent
                day = self.calendar.next_business_day(
                    begin + timedelta(days=weeks * 7 * elapsed // 100))
                if self.start <= day <= self.end:
                    done.append((day, milestones[i]["id"]))
            doc = {"id": eid, "model": "project_fixed",
                   "fee": self._money(rng, client, 10000, 150000, 250), "milestones": milestones,
                   "projects": [f"{cid}-{eid}"]}
            found.append(Engagement(eid, "project_fixed", (f"{cid}-{eid}",), doc,
                                    milestones=tuple(done), time_share=0.3))
            begin += timedelta(days=weeks * 7 + rng.randint(10, 90))
        return found

    @staticmethod
    def _split_100(rng: random.Random, count: int) -> list[int]:
        cuts = sorted(rng.sample(range(5, 96, 5), count - 1))
        return [b - a for a, b in zip([0] + cuts, cuts + [100])]

    # -- who logs time where ------------------------------------------------------------

    def _plan_time(self) -> None:
        assignments, weights, expenses, expense_weights = [], [], [], []
        for client in self.clients:
            for engagement in client.engagements:
                key = f"{client.id}/{engagement.id}"
                weekly = engagement.cadence == "on_approval"
                members = [m for i, m in enumerate(client.team)
                           if random.Random(f"{key}:{i}").random() < 0.7 or i == 0]
                for project in engagement.projects:
                    for person, role, weight in members:
                        # Who logs time where: client, project, person, role, engagement
                        # key, whether its sheets are approved weekly, billing model.
                        assignments.append((client.id, project, person, role, key, weekly,
                                            engagement.model))
                        weights.append(client.size * weight * engagement.time_share
                                       / len(engagement.projects))
                if not weekly:
                    expenses.append((client, engagement))
                    expense_weights.append(client.size)
        total = sum(weights)
        self.engagement_share: dict[str, float] = {}
        for assignment, weight in zip(assignments, weights):
            self.engagement_share[assignment[4]] = (
                self.engagement_share.get(assignment[4], 0.0) + weight / total)
        self.assignments = assignments
        self.assignment_weights = list(accumulate(weights))
        self.expense_targets = expenses
        self.expense_weights = list(accumulate(expense_weights))

    def _calibrate_included_hours(self, rng: random.Random) -> None:
        """Set included hours near each retainer's expected monthly hours, so some months
        run over and are billed as overage."""
        entries_per_month = self.events * 0.95 / self.months
        for client in self.clients:
            for engagement in client.engagements:
                if "included_hours" in engagement.document:
                    share = self.engagement_share.get(f"{client.id}/{engagement.id}", 0.0)
                    expected = float(MEAN_HOURS) * entries_per_month * share
                    engagement.document["included_hours"] = max(
                        5, int(expected * rng.uniform(0.85, 1.3)))

    @property
    def milestones_by_day(self) -> dict[date, list[tuple[str, str, str]]]:
        found: dict[date, list[tuple[str, str, str]]] = {}
        for client in self.clients:
            for engagement in client.engagements:
                for day, milestone in engagement.milestones:
                    found.setdefault(day, []).append((client.id, engagement.id, milestone))
        return found

    # -- the rule folder ----------------------------------------------------------------

    def documents(self) -> dict[str, list[dict[str, Any]]]:
        """Return the rule documents, by the file they go in."""
        lead_partner, second_partner = self.partners[0], self.partners[1]
        escalate_to = self.finance[0]
        agency = {"apiVersion": "billflow/v1", "kind": "Agency",
                  "metadata": {"id": "synthetic", "name": "Synthetic Agency"},
                  "spec": {
                      "timezone": TIMEZONE, "currency": "USD", "holidays": HOLIDAYS,
                      "go_live": self.start.isoformat(),
                      "books_close_after": BOOKS_CLOSE_AFTER,
                      "invoice_numbering": {"format": "SA-{year}-{seq:06d}", "reset": "yearly"},
                      "defaults": {"payment_terms": "net_30", "approval_route": "default",
                                   "reminder_cadence": "standard",
                                   "send_within": "1 business day"},
                      "people": [{"id": p.id, "name": p.name, "email": f"{p.id}@agency.example",
                                  "roles": list(p.roles)} for p in self.people],
                      "connectors": {"files": {"type": "files", "dir": "out/synthetic"}},
                      "routing": {kind: ["files"] for kind in (
                          "approval.requested", "approval.reminded", "approval.escalated",
                          "invoice.issued", "reminder.sent", "escalation.triggered")},
                  }}
        routes = [
            {"apiVersion": "billflow/v1", "kind": "ApprovalRoute",
             "metadata": {"id": "default", "name": "Default approval"},
             "spec": {"rules": [
                 {"when": "invoice.currency == 'JPY' and invoice.total >= 3750000",
                  "approver": lead_partner},
                 {"when": "invoice.currency != 'JPY' and invoice.total >= 25000",
                  "approver": lead_partner},
                 {"when": "engagement.model == 'retainer' and "
                          "invoice.subtotal == engagement.amount", "auto_approve": True},
                 {"when": "engagement.model == 'time_and_materials' and invoice.total < 2500 "
                          "and len(invoice.warnings) == 0", "auto_approve": True},
                 {"approver": "account_lead"}],
                 "remind_after": "24h", "escalate_after": "48h", "escalate_to": escalate_to}},
            {"apiVersion": "billflow/v1", "kind": "ApprovalRoute",
             "metadata": {"id": "high-touch", "name": "A partner reviews every invoice"},
             "spec": {"rules": [{"approver": second_partner}], "remind_after": "24h",
                      "escalate_after": "48h", "escalate_to": escalate_to}},
        ]
        cadences = [
            {"apiVersion": "billflow/v1", "kind": "ReminderCadence",
             "metadata": {"id": "standard", "name": "Standard reminders"},
             "spec": {"steps": [{"offset": "-3d", "template": "friendly_nudge"},
                                {"offset": "0d", "template": "due_today"},
                                {"offset": "7d", "template": "overdue"},
                                {"offset": "14d", "template": "overdue"}],
                      "send_at": "09:00", "business_days_only": True}},
            {"apiVersion": "billflow/v1", "kind": "ReminderCadence",
             "metadata": {"id": "gentle", "name": "Gentle reminders"},
             "spec": {"steps": [{"offset": "0d", "template": "friendly_nudge"},
                                {"offset": "10d", "template": "overdue"}],
                      "send_at": "10:00", "business_days_only": True}},
        ]
        escalations = [
            {"apiVersion": "billflow/v1", "kind": "EscalationRule",
             "metadata": {"id": "over-30", "name": "More than 30 days overdue"},
             "spec": {"when": "invoice.days_overdue > 30",
                      "notify": ["account_lead", "finance"], "late_fee": {"percent": "1.5"},
                      "repeat": "none"}},
            {"apiVersion": "billflow/v1", "kind": "EscalationRule",
             "metadata": {"id": "over-60", "name": "More than 60 days overdue"},
             "spec": {"when": "invoice.days_overdue > 60", "notify": ["partner"],
                      "repeat": "7d"}},
        ]
        files = {"agency.yaml": [agency], "routes.yaml": routes, "cadences.yaml": cadences,
                 "escalations.yaml": escalations}
        for client in self.clients:
            files[f"clients/{client.id}.yaml"] = [client.document]
        return files

    def write_rules(self, directory: str | Path) -> Path:
        """Write the rule folder under `directory` (created if needed); return it."""
        root = Path(directory)
        for name, documents in self.documents().items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True,
                                               width=100), encoding="utf-8")
        return root


# -- the event stream ---------------------------------------------------------------------


class EventStream:
    """The agency's events, as JSON-ready dicts in time order (iterate once).

    Time runs day by day through the agency's period; each business day gets an even share
    of what is left of `agency.events` (less what the reactions are expected to add), so
    the stream ends on the period's last day with the number asked for, or close to it.
    """

    def __init__(self, agency: SyntheticAgency, *, react: bool = True) -> None:
        from reactions import Reactions  # beside this file

        self.agency = agency
        self.count = agency.events
        self.rng = random.Random(agency.seed + 1)
        self.yielded = 0
        self.planned = 0
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = 0
        self.now = 0
        self._serial: dict[str, int] = {}
        self._offsets: dict[date, tuple[timedelta, str]] = {}
        self._weekly: dict[str, list[dict[str, Any]]] = {}
        self.end_ts = self.timestamp(datetime.combine(agency.end + timedelta(days=1), time()))
        self.reactions = Reactions(self) if react else None

    def on_action(self, action: Any) -> None:
        """Give each action the engine decides here (replay's `on_action`)."""
        if self.reactions is not None:
            self.reactions.on_action(action)

    # -- time ---------------------------------------------------------------------------

    def _offset(self, day: date) -> tuple[timedelta, str]:
        found = self._offsets.get(day)
        if found is None:
            offset = ZONE.utcoffset(datetime.combine(day, time(12)))
            minutes = int(offset.total_seconds()) // 60
            sign = "-" if minutes < 0 else "+"
            text = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
            found = self._offsets[day] = (offset, text)
        return found

    def timestamp(self, local: datetime) -> int:
        """Seconds since the epoch of a naive agency-local time."""
        return int((local - self._offset(local.date())[0] - EPOCH).total_seconds())

    def iso(self, ts: int) -> str:
        return datetime.fromtimestamp(ts, ZONE).isoformat()

    def local(self, ts: int) -> datetime:
        return datetime.fromtimestamp(ts, ZONE).replace(tzinfo=None)

    def business_time(self, local: datetime) -> datetime:
        """Move a naive local time into office hours (08:30-18:30 on a business day)."""
        calendar = self.agency.calendar
        if local.time() < time(8, 30):
            local = datetime.combine(local.date(), time(8, 30)) + timedelta(
                minutes=self.rng.randrange(0, 120))
        if local.time() > time(18, 30) or not calendar.is_business_day(local.date()):
            day = calendar.next_business_day(local.date() + timedelta(days=1))
            local = datetime.combine(day, time(8, 30)) + timedelta(
                minutes=self.rng.randrange(0, 240))
        return local

    # -- scheduling ---------------------------------------------------------------------

    def serial(self, kind: str) -> int:
        number = self._serial.get(kind, 0) + 1
        self._serial[kind] = number
        return number

    def push(self, ts: int, item: Any) -> None:
        """Schedule an event (a dict) or a maker (ts -> dict or None) at `ts`."""
        ts = max(ts, self.now)
        if ts < self.end_ts:
            self._seq += 1
            heapq.heappush(self._heap, (ts, self._seq, item))

    def later(self, local: datetime, maker: Callable[[int], dict[str, Any] | None]) -> None:
        """Schedule a reaction at naive local time `local` (never before now)."""
        self.push(self.timestamp(local), maker)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        agency, calendar = self.agency, self.agency.calendar
        milestones = agency.milestones_by_day
        days = [agency.start + timedelta(days=i)
                for i in range((agency.end - agency.start).days + 1)]
        business = [day for day in days if calendar.is_business_day(day)]
        left, done = len(business), 0
        # Expected reactions per business day before any are seen: about one invoice per
        # recurring engagement a month, each approved (half of them) and paid.
        prior = sum(len(c.engagements) for c in agency.clients) * 1.8 / 21
        previous_week = None
        for day in days:
            next_midnight = self.timestamp(datetime.combine(day + timedelta(days=1), time()))
            if calendar.is_business_day(day):
                week = day.isocalendar()[:2]
                if week != previous_week:
                    self._flush_weekly(day)
                    previous_week = week
                extra = max(0, self.yielded - self.planned)
                rate = (extra + prior * 10) / (done + 10)
                remaining = self.count - self.yielded
                if left == 1:
                    pending = sum(1 for ts, _, _ in self._heap if ts < self.end_ts)
                    quota = remaining - pending
                else:
                    quota = round((remaining - rate * left) / left)
                self._plan_day(day, max(0, quota), milestones.get(day, ()))
                left, done = left - 1, done + 1
            while self._heap and self._heap[0][0] < next_midnight:
                ts, _, item = heapq.heappop(self._heap)
                self.now = ts
                event = item(ts) if callable(item) else item
                if event is None:
                    continue
                yield event
                self.yielded += 1
                if self.yielded >= self.count:
                    return

    # -- a day of work ------------------------------------------------------------------

    def _at(self, day: date, minute: int) -> tuple[int, str]:
        offset, text = self._offset(day)
        local = datetime.combine(day, time(minute // 60, minute % 60))
        ts = int((local - offset - EPOCH).total_seconds())
        return ts, f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00{text}"

    def _plan_day(self, day: date, quota: int, milestones: Any) -> None:
        rng, agency = self.rng, self.agency
        expenses = int(quota * EXPENSE_SHARE + rng.random())
        for client_id, engagement, milestone in milestones:
            ts, at = self._at(day, rng.randrange(15 * 60, 18 * 60))
            self.push(ts, {"id": f"asana-ms-{self.serial('ms'):06d}", "type": "milestone.completed",
                           "at": at, "payload": {"client": client_id, "engagement": engagement,
                                                 "milestone": milestone,
                                                 "completed_on": day.isoformat()}})
            self.planned += 1
        for _ in range(expenses):
            client, engagement = rng.choices(agency.expense_targets,
                                             cum_weights=agency.expense_weights)[0]
            ts, at = self._at(day, rng.randrange(9 * 60, 18 * 60))
            self.push(ts, self._expense(client, engagement, day, at))
            self.planned += 1
        made, target = 0, quota - expenses - len(milestones)
        while made < target:
            assignment = rng.choices(agency.assignments, cum_weights=agency.assignment_weights)[0]
            size = min(weighted(rng, ENTRIES_PER_TIMESHEET), target - made)
            ts, at = self._at(day, rng.randrange(8 * 60 + 30, 18 * 60 + 30))
            for _ in range(size):
                entry = self._time_entry(assignment, day, at)
                if assignment[5]:  # on-approval: the week's sheet is approved at once
                    self._weekly.setdefault(assignment[4], []).append(entry)
                    continue
                self.push(ts, entry)
                payload = entry["payload"]
                draw = rng.random()
                if draw < UNAPPROVE_SHARE and payload["billable"] and \
                        assignment[6] != "project_fixed" and \
                        payload["date"] >= agency.start.isoformat():
                    self._unapprove(entry, ts)
                elif draw > 1 - REPEAT_SHARE:
                    self.push(ts + rng.randrange(120, 1800), entry)  # delivered twice
            made += size
            self.planned += size

    def _flush_weekly(self, day: date) -> None:
        for number, (key, entries) in enumerate(sorted(self._weekly.items())):
            ts, at = self._at(day, 11 * 60 + number % 60)
            for entry in entries:
                entry["at"] = at
                self.push(ts, entry)
        self._weekly.clear()

    def _work_day(self, day: date) -> date:
        back = self.rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
        calendar = self.agency.calendar
        while back:
            day = calendar.previous_business_day(day - timedelta(days=1))
            back -= 1
        return day

    def _time_entry(self, assignment: tuple, day: date, at: str) -> dict[str, Any]:
        rng = self.rng
        client, project, person, role = assignment[:4]
        number = self.serial("te")
        payload: dict[str, Any] = {
            "client": client, "project": project, "person": person, "role": role,
            "date": self._work_day(day).isoformat(), "hours": weighted(rng, HOURS),
            "billable": rng.random() >= NON_BILLABLE_SHARE,
        }
        if rng.random() < 0.95:
            payload["task"] = rng.choice(ROLE_TASKS[role])
        if rng.random() < NOTES_SHARE:
            payload["notes"] = rng.choice(ROLE_NOTES[role])
        payload["source_id"] = f"harvest:{2_418_300_000 + number}"
        return {"id": f"harvest-te-{number:08d}", "type": "time.approved", "at": at,
                "payload": payload}

    def _unapprove(self, entry: dict[str, Any], ts: int) -> None:
        """Withdraw an entry later the same day, then approve it again with other hours."""
        rng = self.rng
        local = self.local(ts)
        latest = datetime.combine(local.date(), time(23, 0))
        when = min(local + timedelta(minutes=rng.randrange(30, 240)), latest)
        source_id = entry["payload"]["source_id"]
        self.push(self.timestamp(when), {
            "id": f"harvest-tu-{self.serial('tu'):06d}", "type": "time.unapproved",
            "at": self.iso(self.timestamp(when)), "payload": {"source_id": source_id}})
        again = when + timedelta(minutes=10)
        payload = dict(entry["payload"], hours=weighted(rng, HOURS))
        self.push(self.timestamp(again), {
            "id": f"harvest-te-{self.serial('te'):08d}", "type": "time.approved",
            "at": self.iso(self.timestamp(again)), "payload": payload})

    def _expense(self, client: Client, engagement: Engagement, day: date,
                 at: str) -> dict[str, Any]:
        rng = self.rng
        kind, low, high = rng.choice(EXPENSE_KINDS)
        amount = Decimal(rng.randrange(low * 100, high * 100 + 1)) / 100 * client.fx
        number = self.serial("ex")
        return {"id": f"harvest-ex-{number:07d}", "type": "expense.approved", "at": at,
                "payload": {"client": client.id, "project": engagement.projects[0],
                            "date": self._work_day(day).isoformat(),
                            "amount": money_text(amount, client.currency),
                            "currency": client.currency, "description": kind,
                            "billable": rng.random() < 0.9,
                            "source_id": f"harvest:exp:{391_200_000 + number}"}}
