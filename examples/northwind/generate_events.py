"""Generate Northwind Creative's 2026 event history (`events.ndjson`) from its rule files.

The history models one ordinary agency year, in two stages.

The work. Staff log time on business days to the retainer and hourly projects of the clients
they are staffed on (a few entries per person, per week, per project; busier and quieter
months, so retainers with included hours sometimes run over); account leads approve each
week's timesheets the following Monday morning, some timesheets are approved weeks late and a
handful of entries are unapproved again a day or two later; producers file expenses for
shoots, travel, printing and user testing; fixed-fee projects complete their milestones in
order, some finishing within the year and some not. The studio closes from Christmas Eve to
New Year. One event is delivered twice, as webhooks sometimes are.

The people and the money. The first stage is replayed with billflow's engine and what it
decides is answered as the agency would: approvers approve most drafts within the day, some
only after a reminder or an escalation, and finance approves a couple while their approver is
away; a few drafts are flagged, edited by the account lead and approved again; two drafts and
one issued invoice are voided; clients pay around their due dates, each in its own way (the
invoice number in the reference, through the accounting connector, or only their name or
e-mail), a few of them very late, one too much, one in two halves, one two invoices at once,
one through a parent company that finance has to assign by hand; one invoice is disputed for
two weeks; and a tail of invoices is still open at the end of the year. The answers are
replayed with the history until they no longer change (four replays). So that references
quote the right numbers, the plan foresees the order in which the engine will issue and
number invoices; the last replay is checked against it, and against every payment's intent.

Everything is drawn from seeded random generators and no clock, so every run writes the
same file, byte for byte. From the repository root:

    python examples/northwind/generate_events.py
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

# Lets the script run from a checkout without billflow being installed.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from engine.core.replay import replay  # noqa: E402
from engine.model.calendar import AgencyCalendar  # noqa: E402
from engine.model.events import parse_event  # noqa: E402
from engine.model.money import format_money, percent_of  # noqa: E402
from engine.ruleset.loader import load_ruleset  # noqa: E402
from engine.workflow.issue import next_number  # noqa: E402

SEED = 2026
FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2026, 12, 31)
SHUTDOWN = date(2026, 12, 24)  # no time is logged from Christmas Eve to New Year
RULES_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = RULES_DIR / "events.ndjson"

TIME_MODELS = ("retainer", "time_and_materials")
NON_BILLABLE_SHARE = 0.08
LATE_SHARE = 0.04  # timesheets approved 2-6 weeks late, besides the chosen month-end weeks
ODD_HOURS_SHARE = 0.12  # entries not on a quarter hour (tenths, thirds)
SKIPPED_WEEK_SHARE = 0.07  # weeks someone staffed on a project logs nothing to it
NO_TASK_SHARE = 0.06  # entries without a task, where the engagement does not bill by task
NOTES_SHARE = 0.35
UNAPPROVALS = 7
HARVEST_ENTRY_BASE = 2_418_300_000
HARVEST_EXPENSE_BASE = 391_200_000
MINOR_UNITS = {"JPY": 0}
ONE_DAY = timedelta(days=1)
CENT = Decimal("0.01")

# Who works for which client, in which role, with each person's share (a weight) of the time
# logged to each of the client's projects. Project keys drop the client-id prefix.
TEAMS: dict[str, tuple[tuple[str, str, dict[str, int]], ...]] = {
    "atlas-outfitters": (
        ("maria", "strategist", {"adhoc": 1}),
        ("nora", "strategist", {"creative": 2, "adhoc": 2}),
        ("leo", "designer", {"creative": 4, "adhoc": 3, "shoots": 1}),
        ("grace", "copywriter", {"creative": 2, "adhoc": 1}),
        ("omar", "producer", {"shoots": 4, "adhoc": 1}),
    ),
    "bowery-hotels": (
        ("amir", "strategist", {"brand-social": 1}),
        ("zoe", "designer", {"brand-social": 3}),
        ("ben", "copywriter", {"brand-social": 3}),
    ),
    "brightline-fitness": (
        ("amir", "strategist", {"growth": 2}),
        ("maya", "designer", {"growth": 3}),
        ("lucy", "copywriter", {"growth": 2}),
        ("sol", "developer", {"app": 4}),
        ("ana", "developer", {"app": 3}),
    ),
    "empire-realty": (
        ("ben", "copywriter", {"content": 3}),
        ("felix", "designer", {"content": 2}),
        ("jess", "producer", {"content": 2}),
    ),
    "gotham-health": (
        ("maria", "strategist", {"campaigns": 1}),
        ("claire", "strategist", {"brand": 2, "campaigns": 2}),
        ("hana", "designer", {"brand": 4, "web": 1, "campaigns": 2}),
        ("raj", "developer", {"web": 5}),
        ("grace", "copywriter", {"brand": 2, "campaigns": 2}),
    ),
    "grachten-mobility": (
        ("amir", "strategist", {"performance": 2}),
        ("ivy", "designer", {"performance": 2}),
    ),
    "greenmarket-co": (
        ("lucy", "copywriter", {"community": 2}),
        ("ivy", "designer", {"community": 1}),
    ),
    "hudson-coffee": (
        ("nora", "strategist", {"social": 1}),
        ("zoe", "designer", {"social": 2}),
        ("ben", "copywriter", {"social": 2}),
    ),
    "kiezwerk": (
        ("claire", "strategist", {"social-eu": 1}),
        ("felix", "designer", {"social-eu": 2}),
        ("lucy", "copywriter", {"social-eu": 2}),
    ),
    "kumo-robotics": (
        ("kenji", "producer", {"global-brand": 2}),
        ("nora", "strategist", {"global-brand": 1}),
        ("leo", "designer", {"global-brand": 2}),
    ),
    "liberty-books": (
        ("grace", "copywriter", {"launches": 2}),
        ("maya", "designer", {"launches": 1}),
    ),
    "northstar-analytics": (
        ("nora", "strategist", {"product-marketing": 2}),
        ("ben", "copywriter", {"product-marketing": 3}),
        ("ivy", "designer", {"product-marketing": 2}),
        ("wei", "developer", {"product-marketing": 2}),
    ),
    "parkside-dental": (
        ("tomas", "developer", {"local-seo": 2}),
        ("lucy", "copywriter", {"local-seo": 1}),
    ),
    "pinecrest-labs": (
        ("hana", "designer", {"product-design": 4}),
        ("felix", "designer", {"product-design": 3}),
        ("amir", "strategist", {"product-design": 1}),
        ("eli", "developer", {"product-design": 2}),
    ),
    "thames-and-finch": (
        ("claire", "strategist", {"retainer": 2, "adhoc": 1}),
        ("maya", "designer", {"retainer": 3, "adhoc": 2}),
        ("grace", "copywriter", {"retainer": 1, "adhoc": 1}),
        ("ines", "account_lead", {"adhoc": 1}),
    ),
}
FALLBACK_ROLES = ("strategist", "designer", "copywriter")

# Typical hours a month on projects whose engagement has no included hours (those that do
# are planned around their included hours). Anything unlisted gets DEFAULT_MONTHLY_HOURS.
MONTHLY_HOURS = {
    "atlas-outfitters-creative": 90,
    "atlas-outfitters-adhoc": 100,
    "atlas-outfitters-shoots": 25,
    "bowery-hotels-brand-social": 60,
    "brightline-fitness-app": 40,
    "empire-realty-content": 50,
    "gotham-health-campaigns": 85,
    "grachten-mobility-performance": 45,
    "greenmarket-co-community": 22,
    "kiezwerk-social-eu": 55,
    "kumo-robotics-global-brand": 60,
    "liberty-books-launches": 18,
    "pinecrest-labs-product-design": 120,
    "thames-and-finch-retainer": 70,
    "thames-and-finch-adhoc": 30,
}
DEFAULT_MONTHLY_HOURS = 40

ROLE_TASKS = {
    "strategist": ("Strategy", "Workshops", "Reporting"),
    "designer": ("Design", "Revisions"),
    "developer": ("Development", "QA"),
    "copywriter": ("Copywriting", "Editing"),
    "producer": ("Production", "Project management"),
    "account_lead": ("Account management",),
}
# Task names of the engagements that invoice by task (group_by: task).
PROJECT_TASKS = {
    "brightline-fitness-app": (
        "Bug fixes", "Class booking", "Payments integration", "Release management", "Maintenance",
    ),
    "thames-and-finch-adhoc": (
        "Social assets", "Email design", "Photo retouching", "Website updates", "Copy edits",
    ),
}
ROLE_NOTES = {
    "strategist": ("Monthly performance review", "Audience research", "Planning workshop",
                   "Competitive audit", "Campaign brief", "Status call with client"),
    "designer": ("Round 2 revisions", "Social templates", "Landing page comps",
                 "Asset resizing", "Art direction for shoot", "Presentation deck"),
    "developer": ("Bug fixes", "Deploy to staging", "Code review", "Analytics tagging",
                  "CMS updates", "Performance fixes"),
    "copywriter": ("Newsletter copy", "Caption drafts", "Web copy edits", "Press release draft",
                   "Proofreading"),
    "producer": ("Shoot scheduling", "Vendor calls", "Call sheet", "Post-production review",
                 "Budget tracking"),
    "account_lead": ("Weekly status call", "Client check-in", "Scope review"),
}
NON_BILLABLE_NOTES = ("Internal review", "Rework on our side", "Team onboarding",
                      "Estimate for a new request", "Travel time")

# When each fixed-fee project kicked off and how many weeks it runs; milestones fall due in
# proportion to their share of the fee. Projects not listed start on DEFAULT_PLAN.
PROJECT_PLANS = {
    ("empire-realty", "listing-site"): (date(2026, 1, 19), 20),
    ("harbor-arts", "annual-report"): (date(2026, 2, 2), 30),
    ("hudson-coffee", "packaging"): (date(2026, 3, 2), 26),
    ("kumo-robotics", "brand-film"): (date(2026, 5, 4), 44),
    ("maison-lune", "ecommerce"): (date(2026, 1, 5), 64),
    ("northstar-analytics", "website-rebuild"): (date(2025, 12, 1), 40),
    ("thames-and-finch", "brand-refresh"): (date(2026, 2, 16), 36),
    ("vela-skincare", "launch-campaign"): (date(2026, 6, 1), 34),
}
DEFAULT_PLAN = (date(2026, 2, 2), 30)

# Expenses: client, project (without prefix), how many in the year, billable, and the kinds
# of item with their cost range in the client's currency.
EXPENSE_PLANS = (
    ("atlas-outfitters", "shoots", 14, True, (
        ("Location permit, Chautauqua Park trailhead shoot", 350, 900),
        ("Props and wardrobe styling", 180, 1200),
        ("Flights New York to Denver, shoot crew of three", 780, 1650),
        ("Hotel in Denver, shoot crew, two nights", 540, 1100),
        ("Camera and lighting rental", 450, 1800),
        ("Model fees, outdoor apparel shoot", 900, 2400),
        ("Catering, shoot day", 220, 650),
    )),
    ("atlas-outfitters", "adhoc", 10, True, (
        ("Stock photography licence (Getty Images, one image)", 175, 575),
        ("Stock footage licence (Adobe Stock, 4K clip)", 79, 199),
        ("Font licence, web and print", 120, 480),
        ("Courier: product samples to the studio", 35, 180),
        ("Printing: in-store posters, 40 x A1", 380, 920),
    )),
    ("pinecrest-labs", "product-design", 6, True, (
        ("User-testing incentives: 6 participants at $100", 600, 600),
        ("User-testing incentives: 8 participants at $100", 800, 800),
        ("User-testing incentives: 10 participants at $75", 750, 750),
        ("Remote testing platform, one study", 250, 450),
    )),
    ("gotham-health", "campaigns", 5, True, (
        ("Printing: clinic waiting-room posters, 500 copies", 820, 1450),
        ("Printing: patient brochures, 5,000 copies", 1900, 3400),
        ("Stock photography licence, extended (healthcare set)", 450, 1200),
        ("Translation: Spanish campaign copy", 600, 1400),
    )),
    ("brightline-fitness", "app", 3, True, (
        ("Apple Developer Program, annual membership", 99, 99),
        ("Test devices: two Android phones", 420, 760),
        ("Crash reporting service, annual plan", 290, 290),
    )),
    ("thames-and-finch", "adhoc", 5, True, (
        ("Train London to Manchester, store photography", 85, 240),
        ("Photo studio hire, half day", 350, 650),
        ("User-testing incentives: 6 participants at 50 GBP", 300, 300),
        ("Courier: product samples", 25, 90),
    )),
    ("kiezwerk", "social-eu", 4, False, (
        ("Flights New York to Berlin, quarterly workshop", 780, 1350),
        ("Hotel in Berlin, three nights", 420, 690),
    )),
    ("kumo-robotics", "global-brand", 2, False, (
        ("Flights New York to Tokyo, brand workshop", 180000, 320000),
    )),
)


@dataclass(frozen=True)
class Rules:
    """The parts of the rule set the history is drawn from."""

    calendar: AgencyCalendar
    roles: dict[str, tuple[str, ...]]
    clients: dict[str, dict]


@dataclass(frozen=True)
class Workstream:
    """One project that time is logged to, with its engagement, team and monthly hours."""

    client: str
    lead: str
    engagement: dict
    project: str
    monthly_hours: Decimal
    team: tuple[tuple[str, str, Decimal], ...]


@dataclass(frozen=True)
class TimeEntry:
    """One approved time entry, before it is numbered."""

    work: Workstream
    person: str
    role: str
    day: date
    hours: Decimal
    billable: bool
    task: str | None
    notes: str | None
    approved_at: datetime


@dataclass(frozen=True)
class Event:
    """An event with its instant, for ordering."""

    at: datetime
    body: dict


def load_rules(folder: Path) -> Rules:
    """Read the agency and client documents of a rule folder."""
    agency, clients = None, {}
    for path in sorted(folder.rglob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if not isinstance(doc, dict):
                    continue
                if doc.get("kind") == "Agency":
                    agency = doc["spec"]
                elif doc.get("kind") == "Client":
                    clients[doc["metadata"]["id"]] = doc["spec"]
    if agency is None:
        raise SystemExit(f"no Agency document under {folder.name}/")
    calendar = AgencyCalendar(agency["timezone"], agency.get("holidays"))
    roles = {p["id"]: tuple(p.get("roles", ())) for p in agency.get("people", ())}
    return Rules(calendar, roles, dict(sorted(clients.items())))


def as_date(value: object) -> date:
    """Return a YAML date (already parsed, or written as a string) as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def active_window(engagement: dict) -> tuple[date, date] | None:
    """Return the days of the year in which time is logged to an engagement, if any."""
    first = max(FIRST_DAY, as_date(engagement.get("start", FIRST_DAY)))
    last = min(SHUTDOWN - ONE_DAY, as_date(engagement.get("end", LAST_DAY)))
    return (first, last) if first <= last else None


def team_for(rules: Rules, rng: random.Random, client: str, projects: list[str]) -> list[tuple]:
    """Return a client's team as (person, role, {project: weight}), checked against the rules."""
    if client not in TEAMS:
        return [(rng.choice(sorted(p for p, r in rules.roles.items() if role in r)), role,
                 dict.fromkeys(projects, 1)) for role in FALLBACK_ROLES]
    team = []
    for person, role, weights in TEAMS[client]:
        if role not in rules.roles.get(person, ()):
            raise SystemExit(f"{client}: {person} does not work as {role} in agency.yaml")
        full = {f"{client}-{key}": weight for key, weight in weights.items()}
        unknown = sorted(set(full) - set(projects))
        if unknown:
            raise SystemExit(f"{client}: no retainer or hourly project {', '.join(unknown)}")
        team.append((person, role, full))
    return team


def workstreams(rules: Rules, rng: random.Random) -> list[Workstream]:
    """List every retainer and hourly project that time is logged to, with its team."""
    streams = []
    for client, spec in rules.clients.items():
        engagements = [e for e in spec.get("engagements", ()) if e.get("model") in TIME_MODELS]
        projects = [p for e in engagements for p in e.get("projects", ())]
        team = team_for(rules, rng, client, projects)
        for engagement in engagements:
            for project in engagement.get("projects", ()):
                members = tuple((person, role, Decimal(weights[project]))
                                for person, role, weights in team if project in weights)
                if members:
                    streams.append(Workstream(client, spec["account_lead"], engagement, project,
                                              monthly_hours(engagement, project), members))
    return streams


def monthly_hours(engagement: dict, project: str) -> Decimal:
    """Return the typical hours a month logged to one project of an engagement."""
    included = engagement.get("included_hours")
    if included is not None:
        return Decimal(str(included)) / len(engagement["projects"])
    return Decimal(MONTHLY_HOURS.get(project, DEFAULT_MONTHLY_HOURS))


def month_factors(rng: random.Random, engagement: dict) -> dict[int, Decimal]:
    """Draw how busy each month is; retainers with included hours swing above and below them."""
    if engagement.get("included_hours") is None:
        return {month: Decimal(rng.randint(80, 120)) / 100 for month in range(1, 13)}
    busy = set(rng.sample(range(1, 13), rng.randint(3, 5)))
    # Busy months aim well above the included hours: holidays, time off, skipped weeks and
    # non-billable entries take some twenty percent off what is planned.
    return {month: Decimal(rng.randint(135, 155) if month in busy else rng.randint(78, 100)) / 100
            for month in range(1, 13)}


def mondays() -> list[date]:
    """Return the Monday of every week that has a working day in the year."""
    monday = FIRST_DAY - timedelta(days=FIRST_DAY.weekday())
    weeks = []
    while monday < SHUTDOWN:
        weeks.append(monday)
        monday += timedelta(weeks=1)
    return weeks


def vacations(rng: random.Random, people: list[str]) -> dict[str, set[date]]:
    """Give everyone one summer week off."""
    summer = [m for m in mondays() if date(2026, 6, 8) <= m <= date(2026, 8, 24)]
    return {person: {start + timedelta(days=d) for d in range(5)}
            for person, start in ((p, rng.choice(summer)) for p in people)}


def late_weeks(rules: Rules, rng: random.Random, streams: list[Workstream]) -> dict:
    """Pick month-end weeks of each monthly hourly project whose timesheets are approved late."""
    chosen = {}
    for work in streams:
        engagement = work.engagement
        if engagement["model"] != "time_and_materials" or engagement.get("cadence") != "monthly":
            continue
        for month in sorted(rng.sample(range(2, 12), 2)):
            last = rules.calendar.billing_date(2026, month, "last_business_day")
            chosen[(work.project, last - timedelta(days=last.weekday()))] = rng.randint(2, 4)
    return chosen


def approval_day(rules: Rules, monday: date, weeks_late: int) -> date:
    """Return the business day a week's timesheet is approved, `weeks_late` weeks after normal."""
    normal = rules.calendar.next_business_day(monday + timedelta(weeks=1))
    late = rules.calendar.next_business_day(monday + timedelta(weeks=1 + weeks_late))
    return late if late <= LAST_DAY else normal


def approval_instant(rules: Rules, rng: random.Random, batches: dict, lead: str,
                     day: date) -> datetime:
    """Return the instant an account lead approves the day's timesheets, shared by the batch."""
    if (lead, day) not in batches:
        minute = rng.choice(range(0, 50, 5))
        batches[(lead, day)] = rules.calendar.at_local(day, time(10, minute))
    return batches[(lead, day)]


def entry_hours(rng: random.Random, target: Decimal) -> Decimal:
    """Round a target to hours as people log them: mostly quarter hours, some tenths or thirds."""
    target = min(target, Decimal(8))
    if rng.random() < ODD_HOURS_SHARE:
        if rng.random() < 0.5:
            return max(Decimal("0.1"), target.quantize(Decimal("0.1"), ROUND_HALF_UP))
        thirds = max(1, int((target * 3).to_integral_value(ROUND_HALF_UP)))
        return (Decimal(thirds) / 3).quantize(CENT, ROUND_HALF_UP)
    quarters = max(1, int((target * 4).to_integral_value(ROUND_HALF_UP)))
    return Decimal(quarters) / 4


def format_hours(hours: Decimal) -> str:
    """Write hours as a decimal string with one or two decimals: 2.0, 0.5, 1.25, 1.33."""
    text = format(hours.quantize(CENT), "f").rstrip("0")
    return text + "0" if text.endswith(".") else text


def log_week(rng: random.Random, work: Workstream, member: tuple, days: list[date],
             factors: dict[int, Decimal]) -> list[tuple]:
    """Draw one person's week on a project: (day, hours, task, notes, billable) per entry."""
    person, role, weight = member
    share = weight / sum(w for _, _, w in work.team)
    target = sum(work.monthly_hours * factors[d.month] * 12 / 260 * share for d in days)
    count = int((target / Decimal("2.5")).to_integral_value()) + rng.choice((-1, 0, 0, 1))
    count = max(1, min(len(days), count))
    tasks = PROJECT_TASKS.get(work.project, ROLE_TASKS.get(role, ("General",)))
    task_required = work.engagement.get("group_by") == "task"
    entries = []
    for day in sorted(rng.sample(days, count)):
        hours = entry_hours(rng, target / count * Decimal(rng.randint(70, 130)) / 100)
        billable = rng.random() >= NON_BILLABLE_SHARE
        task = rng.choice(tasks) if task_required or rng.random() >= NO_TASK_SHARE else None
        if not billable:
            notes = rng.choice(NON_BILLABLE_NOTES)
        elif role in ROLE_NOTES and rng.random() < NOTES_SHARE:
            notes = rng.choice(ROLE_NOTES[role])
        else:
            notes = None
        entries.append((day, hours, task, notes, billable))
    return entries


def plan_time(rules: Rules, rng: random.Random, streams: list[Workstream]) -> list[TimeEntry]:
    """Draw the year's time entries and when each is approved."""
    people = sorted({person for work in streams for person, _, _ in work.team})
    off = vacations(rng, people)
    forced_late = late_weeks(rules, rng, streams)
    factors = {work.project: month_factors(rng, work.engagement) for work in streams}
    batches: dict = {}
    entries = []
    for monday in mondays():
        for work in streams:
            window = active_window(work.engagement)
            if window is None:
                continue
            for member in work.team:
                person, role, _ = member
                days = [monday + timedelta(days=d) for d in range(5)]
                days = [d for d in days if window[0] <= d <= window[1]
                        and rules.calendar.is_business_day(d) and d not in off[person]]
                if not days or rng.random() < SKIPPED_WEEK_SHARE:
                    continue
                weeks_late = forced_late.get((work.project, monday), 0)
                if not weeks_late and rng.random() < LATE_SHARE:
                    weeks_late = rng.randint(2, 6)
                approved = approval_day(rules, monday, weeks_late)
                at = approval_instant(rules, rng, batches, work.lead, approved)
                for day, hours, task, notes, billable in log_week(rng, work, member, days,
                                                                  factors[work.project]):
                    entries.append(TimeEntry(work, person, role, day, hours, billable, task,
                                             notes, at))
    entries.sort(key=lambda e: (e.day, e.work.client, e.work.project, e.person))
    return entries


def time_events(rng: random.Random, entries: list[TimeEntry]) -> list[Event]:
    """Number the entries in the order they were logged and turn them into events."""
    events, source = [], HARVEST_ENTRY_BASE
    for number, entry in enumerate(entries, start=1):
        source += rng.randint(3, 40)  # other Harvest accounts take ids in between
        payload = {
            "client": entry.work.client, "project": entry.work.project,
            "person": entry.person, "role": entry.role, "date": entry.day.isoformat(),
            "hours": format_hours(entry.hours), "billable": entry.billable,
        }
        if entry.task:
            payload["task"] = entry.task
        if entry.notes:
            payload["notes"] = entry.notes
        payload["source_id"] = f"harvest:{source}"
        events.append(envelope(f"harvest-te-{number:06d}", "time.approved",
                               entry.approved_at, payload))
    return events


def billing_days(rules: Rules, engagement: dict) -> set[date]:
    """Return the year's billing days of a monthly engagement (none for per-approval billing)."""
    if engagement.get("cadence") == "on_approval" or "billing_day" not in engagement:
        return set()
    return {rules.calendar.billing_date(2026, m, engagement["billing_day"]) for m in range(1, 13)}


def plan_unapprovals(rules: Rules, rng: random.Random, entries: list[TimeEntry],
                     events: list[Event]) -> list[Event]:
    """Unapprove a few entries a day or two after approval, before any invoice could bill them."""
    billing: dict[str, set[date]] = {}
    candidates = []
    for entry, event in zip(entries, events):
        if entry.work.project not in billing:
            billing[entry.work.project] = billing_days(rules, entry.work.engagement)
        approved = event.at.date()
        gap = rng.choice((1, 2))
        when = approved + timedelta(days=gap)
        blocked = {approved + timedelta(days=d) for d in range(gap + 1)}
        if (entry.work.engagement.get("cadence") == "on_approval"
                or not rules.calendar.is_business_day(when)
                or (when + ONE_DAY).month != approved.month
                or blocked & billing[entry.work.project]):
            continue
        candidates.append((event, when))
    unapprovals = []
    for event, when in sorted(rng.sample(candidates, UNAPPROVALS), key=lambda c: c[0].body["id"]):
        at = rules.calendar.at_local(when, time(rng.randint(11, 17), rng.choice((0, 15, 30, 45))))
        payload = {"source_id": event.body["payload"]["source_id"]}
        unapprovals.append(envelope(f"{event.body['id']}-unapproved", "time.unapproved", at,
                                    payload))
    return unapprovals


def plan_expenses(rules: Rules, rng: random.Random) -> list[Event]:
    """Draw the year's approved expenses."""
    drawn = []
    for client, key, count, billable, items in EXPENSE_PLANS:
        spec = rules.clients[client]
        project = f"{client}-{key}"
        engagement = next(e for e in spec["engagements"] if project in e.get("projects", ()))
        first, last = active_window(engagement) or (FIRST_DAY, FIRST_DAY)
        days = [first + timedelta(days=n) for n in range((last - first).days - 10)]
        days = [d for d in days if rules.calendar.is_business_day(d)]
        kinds = [items[n % len(items)] for n in range(count)]  # every kind of item turns up
        rng.shuffle(kinds)
        for day, (description, low, high) in zip(sorted(rng.sample(days, count)), kinds):
            amount = expense_amount(rng, low, high, spec["currency"])
            approved = rules.calendar.next_business_day(day + timedelta(days=rng.randint(2, 8)))
            at = rules.calendar.at_local(approved, time(rng.randint(13, 17),
                                                        rng.choice((0, 15, 30, 45))))
            drawn.append((day, at, {
                "client": client, "project": project, "date": day.isoformat(),
                "amount": amount, "currency": spec["currency"], "description": description,
                "billable": billable,
            }))
    drawn.sort(key=lambda d: (d[0], d[2]["client"], d[2]["project"]))
    events = []
    for number, (_, at, payload) in enumerate(drawn, start=1):
        payload["source_id"] = f"harvest:{HARVEST_EXPENSE_BASE + number * 17}"
        events.append(envelope(f"harvest-ex-{number:05d}", "expense.approved", at, payload))
    return events


def expense_amount(rng: random.Random, low: int, high: int, currency: str) -> str:
    """Draw a cost between `low` and `high` as a decimal string in the currency's minor units."""
    digits = MINOR_UNITS.get(currency, 2)
    if digits == 0:
        return str(rng.randint(low // 100, high // 100) * 100)
    cents = rng.randint(low * 100, high * 100)
    return format((Decimal(cents) / 100).quantize(CENT), "f")


def milestone_shares(engagement: dict) -> list[tuple[str, Decimal]]:
    """Return each milestone with its cumulative share of the fee, in percent."""
    fee, total, shares = Decimal(str(engagement["fee"])), Decimal(0), []
    for milestone in engagement["milestones"]:
        if "percent" in milestone:
            total += Decimal(str(milestone["percent"]))
        else:
            total += Decimal(str(milestone["amount"])) * 100 / fee
        shares.append((milestone["id"], total))
    return shares


def plan_milestones(rules: Rules, rng: random.Random) -> list[Event]:
    """Complete each fixed-fee project's milestones in order, as far as the year goes."""
    events = []
    for client, spec in rules.clients.items():
        for engagement in spec.get("engagements", ()):
            if engagement.get("model") != "project_fixed":
                continue
            kickoff, weeks = PROJECT_PLANS.get((client, engagement["id"]), DEFAULT_PLAN)
            previous = kickoff
            for milestone, share in milestone_shares(engagement):
                days = int(weeks * 7 * share * rng.randint(90, 110) / 10000)
                done = rules.calendar.next_business_day(
                    max(kickoff + timedelta(days=days), previous + ONE_DAY))
                if done > LAST_DAY:
                    break
                previous = done
                if done < FIRST_DAY:
                    continue  # completed and billed before go-live
                at = rules.calendar.at_local(done, time(16, rng.choice((0, 10, 20, 30, 45))))
                payload = {"client": client, "engagement": engagement["id"],
                           "milestone": milestone, "completed_on": done.isoformat()}
                events.append(envelope(f"ms-{client}-{engagement['id']}-{milestone}",
                                       "milestone.completed", at, payload))
    return events


def envelope(event_id: str, event_type: str, at: datetime, payload: dict) -> Event:
    """Wrap a payload in the event envelope."""
    return Event(at, {"id": event_id, "type": event_type, "at": at.isoformat(),
                      "payload": payload})


def with_duplicate(rng: random.Random, events: list[Event]) -> list[Event]:
    """Deliver one mid-year approved entry a second time, at the end of its approval batch."""
    june = [i for i, e in enumerate(events)
            if e.body["type"] == "time.approved" and e.at.month == 6]
    original = events[rng.choice(june)]
    end = max(i for i, e in enumerate(events) if e.at == original.at)
    return events[:end + 1] + [original] + events[end + 1:]


def generate(rules: Rules) -> list[Event]:
    """Draw the whole year's history, ordered by `at`."""
    rng = random.Random(SEED)
    streams = workstreams(rules, rng)
    entries = plan_time(rules, rng, streams)
    approvals = time_events(rng, entries)
    events = approvals + plan_unapprovals(rules, rng, entries, approvals)
    events += plan_expenses(rules, rng) + plan_milestones(rules, rng)
    events.sort(key=lambda e: (e.at, e.body["id"]))
    return with_duplicate(rng, events)


# --------------------------------------------------------------------------------------------
# Stage 2: the people and the money. The engine replays the history so far; what it decided
# (drafts waiting for approval, invoices issued) tells who acts next and when. The answers are
# replayed in turn until they no longer change: each answer follows what came before it, so a
# few rounds settle the year. Two things are foreseen rather than waited for, because a round
# that waited for them would shift every later invoice number that payments quote: the late
# fees the planned payments will cause, and the order in which invoices will be numbered.
# Every decision draws from its own seeded generator, so deciding one never shifts another.

ROUNDS = 8
OFFICE_OPENS = time(9, 0)
OFFICE_CLOSES = time(17, 30)
SLOW_SHARE = 0.09  # approvals that wait past the reminder (weekends add more of their own)
STALLED_SHARE = 0.01  # approvals that wait past the escalation: escalate_to approves instead
# (drafts made at midnight on a Saturday are escalated by Monday morning anyway: the
# route's 24h and 48h run on the clock, weekends included)
FINANCE_APPROVER = "priya"
LATE_FEE_AFTER_DAYS = 30  # escalations.yaml: over-30 drafts the late fee
LATE_FEE_SUFFIX = "/late-fee-over-30"  # the id of the late fee that over-30 drafts


@dataclass(frozen=True)
class Flag:
    """An approver sends a draft back: who, why, and the edit the account lead then makes.

    `edit` is `cap` (write the hours down to `value`), `discount` (`value` percent of the
    subtotal) or `remove` (the lines whose description starts with `value`); `line` is the
    description of the line a cap or discount adds.
    """

    by: str
    comment: str
    edit: str
    value: str
    line: str = ""


FLAGS = {
    "atlas-outfitters/adhoc/2026-03-31": Flag(
        "maria", "Over Atlas's $20,000 monthly cap. Jordan agreed to pay the cap for March's "
        "hours plus the permit; please write the rest down.", "cap", "20000",
        "Write-down to the agreed $20,000 monthly cap (March hours)"),
    "thames-and-finch/adhoc/2026-03-31": Flag(
        "dana", "The photo retouching was redone after our colour-profile mistake; please take "
        "it off.", "remove", "Photo retouching"),
    "northstar-analytics/product-marketing/2026-05": Flag(
        "marcus", "Northstar pushed back on April's overage: it was launch-week support that "
        "the SOW counts as included. Please drop the overage line.", "remove", "Overage"),
    "pinecrest-labs/product-design/2026-06-15": Flag(
        "marcus", "Client agreed a 10% discount this month: the usability study slipped a week "
        "on our side.", "discount", "10", "Discount: 10% agreed for June (usability study delay)"),
    "kumo-robotics/brand-film/storyboard": Flag(
        "kenji", "Client agreed a 10% discount on the storyboard milestone: two boards were cut "
        "from scope.", "discount", "10", "Discount: 10%, two storyboards cut from scope"),
    "gotham-health/campaign-support/2026-09-01": Flag(
        "theo", "Gotham's in-house team did the Spanish translation in the end; please take the "
        "translation expense off.", "remove", "Expense 2026-08-20: Translation"),
}

# Drafts approved by finance while the approver is away, with the note they leave.
FINANCE_APPROVALS = {
    "gotham-health/campaign-support/2026-07-01":
        "Theo is on leave; checked against the June timesheets and approved.",
    "brightline-fitness/dev-support/2026-08-17":
        "Marcus is out this week; approved from the supporting hours.",
}

# Drafts voided instead of approved: by whom, and why.
DRAFT_VOIDS = {
    "liberty-books/launches/2026-06": (
        "sam", "Liberty Street Books wound the launches retainer down at the end of May; the "
        "June stub period is waived."),
    "atlas-outfitters/adhoc/2026-07-31": (
        "marcus", "Atlas's Q3 purchase order is not open yet; July's hours move to the August "
        "invoice."),
}


@dataclass(frozen=True)
class Reissue:
    """An issued invoice voided a few business days later and billed again from corrected time.

    Voiding the invoice gives its entries back to the unbilled pool; the timesheet is then
    exported again from Harvest with the tasks corrected (the same entry ids, new events), so
    the corrected entries replace the released ones on the next invoice.
    """

    by: str
    reason: str
    task_from: str
    task_to: str
    after_days: int


REISSUES = {
    "brightline-fitness/dev-support/2026-04-27": Reissue(
        "marcus", "Brightline capitalises its payments work: the hours logged as Maintenance "
        "were the payments integration. Replaced by a corrected invoice.",
        "Maintenance", "Payments integration", 2),
}


@dataclass(frozen=True)
class Dispute:
    """A client disputes an issued invoice before it falls due, and drops the dispute later."""

    by: str
    reason: str
    resolution: str
    days_before_due: int
    lasts_days: int
    paid_days_after: int


DISPUTES = {
    "pinecrest-labs/product-design/2026-09-15": Dispute(
        "marcus", "Pinecrest questions 22 hours of design revisions on the onboarding flow.",
        "Walked Pinecrest through the revision log; the hours stand.", 8, 14, 3),
}

# Invoices paid this many days after their due date (the 30-day escalation and its late fee
# fire; past 60 days the partners hear about it every week).
LATE_PAYMENTS = {
    "bowery-hotels/brand-social/2026-03": 42,
    "kumo-robotics/global-brand/2026-04": 38,
    "kiezwerk/social-eu/2026-06": 50,
    "thames-and-finch/adhoc/2026-07-31": 66,
}
# Invoices still unpaid at the end of the year (and their late fees).
UNPAID = (
    "liberty-books/launches/2026-05",
    "harbor-arts/annual-report/delivery",
    "greenmarket-co/community/2026-10",
)
# Paid more than the balance: the excess is kept as credit for the client's next invoice.
OVERPAID = {"grachten-mobility/performance/2026-03": Decimal("7500.00")}
# Paid in two halves, this many days after the due date.
INSTALMENTS = {"vela-skincare/launch-campaign/strategy": (0, 16)}
# Paid together in one transfer without a reference: the later invoice names the earlier.
TOGETHER = {"hudson-coffee/social/2026-05": "hudson-coffee/packaging/concepts"}
# Paid by a payer the bank names differently; finance assigns it this many business days later.
UNKNOWN_PAYERS = {"empire-realty/listing-site/launch": ("ERR HOLDINGS LLC", 2)}


@dataclass(frozen=True)
class Habit:
    """How a client pays: when (days relative to the due date) and how the payment is named.

    `style` is `reference` (the bank reference quotes the number), `client` (the payment
    comes through the accounting connector, which knows the client) or `payer` (no
    reference; the bank names the payer as `text`).
    """

    early: int
    late: int
    style: str
    text: str


HABITS = {
    "atlas-outfitters": Habit(-2, 6, "reference", "INV {number} ATLAS OUTFITTERS"),
    "bowery-hotels": Habit(1, 12, "reference", "{number}"),
    "brightline-fitness": Habit(-10, 0, "client", "{number}"),
    "empire-realty": Habit(-3, 5, "payer", "Empire Row Realty"),
    "gotham-health": Habit(0, 3, "reference", "GHP AP {number}"),
    "grachten-mobility": Habit(-5, 0, "reference", "{number}"),
    "greenmarket-co": Habit(0, 10, "payer", "operations@greenmarket.example"),
    "harbor-arts": Habit(3, 15, "payer", "Harbor Arts Council"),
    "hudson-coffee": Habit(-1, 8, "reference", "INV {number} HUDSON PINE"),
    "kiezwerk": Habit(-7, -1, "reference", "Rechnung {number}"),
    "kumo-robotics": Habit(0, 0, "reference", "{number} KUMO ROBOTICS KK"),
    "liberty-books": Habit(2, 10, "payer", "harriet@libertystreetbooks.example"),
    "maison-lune": Habit(-3, 4, "reference", "FACTURE {number}"),
    "northstar-analytics": Habit(0, 9, "reference", "{number}"),
    "parkside-dental": Habit(2, 12, "payer", "office@parksidedental.example"),
    "pinecrest-labs": Habit(0, 7, "reference", "{number}"),
    "thames-and-finch": Habit(-2, 5, "reference", "{number} THAMES FINCH"),
    "vela-skincare": Habit(-1, 5, "reference", "{number}"),
}


@dataclass
class Seen:
    """What one replay decided, indexed for the people who answer it."""

    requests: list = field(default_factory=list)
    drafted: dict = field(default_factory=dict)
    issued: dict = field(default_factory=dict)
    credit_used: dict = field(default_factory=dict)


@dataclass
class Issue:
    """An invoice as the plan expects the engine to issue it: when, for how much, its number."""

    id: str
    client: str
    currency: str
    owed: Decimal  # the total, less any client credit used when it was issued
    at: datetime
    order: tuple  # among invoices issued at the same instant, as the engine orders them
    due: date
    number: str = ""


@dataclass
class Payment:
    """A planned payment: when, how much, which invoices it should settle, how it is named.

    `style` is `habit` (as the client usually pays), `reference` (quoting the invoice
    number), `payer` (the client's name, no reference) or `unknown` (a payer the engine
    cannot know, assigned later by finance).
    """

    at: datetime
    client: str
    currency: str
    amount: Decimal
    targets: tuple
    style: str
    credit: Decimal = Decimal(0)
    assign_at: datetime | None = None
    fields: dict = field(default_factory=dict)
    id: str = ""


@dataclass
class Plan:
    """The second stage's events, with the ledger and payments they imply (to check them)."""

    events: list
    issues: dict
    payments: list
    fees: dict


class Year:
    """The rules and first-stage history that the second stage answers."""

    def __init__(self, rules: Rules, first: list[Event]) -> None:
        self.rules = rules
        self.engine_rules = load_ruleset(RULES_DIR)
        self.calendar = rules.calendar
        self.parsed = [parse_event(e.body, f"{DEFAULT_OUT.name}:{n}")
                       for n, e in enumerate(first, start=1)]
        self.originals = {e.body["id"]: e.body for e in first}
        self.finance = {p.id for p in self.engine_rules.agency.people_with_role("finance")}
        if FINANCE_APPROVER not in self.finance:
            raise SystemExit(f"{FINANCE_APPROVER} is not in finance in agency.yaml")
        fees = [rule.late_fee.percent for rule in self.engine_rules.escalation_rules.values()
                if rule.late_fee is not None and rule.late_fee.percent is not None]
        if len(fees) != 1:
            raise SystemExit("expected one escalation rule with a percentage late fee")
        self.late_fee_percent = fees[0]

    def lead(self, client: str) -> str:
        return self.rules.clients[client]["account_lead"]

    def route(self, client: str):
        return self.engine_rules.approval_routes[self.engine_rules.clients[client].approval_route]

    def person(self, client: str, reference: str | None) -> str:
        return self.lead(client) if reference in (None, "account_lead") else reference

    def due_date(self, client: str, issued: datetime) -> date:
        return self.engine_rules.clients[client].payment_terms.due_date(issued.date())

    def replay(self, added: list[Event]):
        """Replay the first stage and `added` over the year (first-stage events first at ties)."""
        parsed = self.parsed + [parse_event(e.body, f"stage 2 event {e.body['id']}")
                                for e in added]
        return replay(self.engine_rules, parsed, FIRST_DAY, LAST_DAY)


def chance(*keys: object) -> random.Random:
    """Return a generator seeded by what is decided, so one decision never shifts another."""
    return random.Random(":".join((str(SEED), "stage2", *map(str, keys))))


def clock_plus(at: time, minutes: int) -> time:
    return (datetime.combine(FIRST_DAY, at) + timedelta(minutes=minutes)).time()


def office_instant(calendar: AgencyCalendar, earliest: datetime,
                   rng: random.Random) -> datetime | None:
    """Return the first office moment at or after `earliest`; None once the studio closes."""
    local = earliest.astimezone(calendar.zone)
    day, clock = local.date(), local.time().replace(second=0, microsecond=0)
    if not calendar.is_business_day(day) or clock >= OFFICE_CLOSES:
        day, clock = calendar.next_business_day(day + ONE_DAY), OFFICE_OPENS
    if clock <= OFFICE_OPENS:
        clock = clock_plus(OFFICE_OPENS, rng.randint(5, 100))
    if day >= SHUTDOWN:
        return None
    return calendar.at_local(day, clock)


def bank_instant(calendar: AgencyCalendar, day: date, rng: random.Random) -> datetime:
    """Return when the bank feed shows a payment received on business day `day`."""
    return calendar.at_local(day, time(rng.randint(11, 16), rng.randint(0, 59)))


def is_late_fee(invoice_id: str) -> bool:
    return invoice_id.endswith(LATE_FEE_SUFFIX)


def read_actions(actions) -> Seen:
    """Index the actions a replay decided."""
    seen = Seen()
    for action in actions:
        payload = action.payload
        if action.type == "approval.requested":
            seen.requests.append(action)
        elif action.type == "invoice.drafted":
            seen.drafted[payload["invoice"]["id"]] = action
        elif action.type == "invoice.issued":
            seen.issued[payload["invoice"]["id"]] = action
        elif action.type == "payment.applied" and payload["payment"]["id"].startswith("credit:"):
            for allocation in payload["allocations"]:
                seen.credit_used[allocation["invoice"]] = Decimal(allocation["amount"])
    return seen


def approval(year: Year, invoice_id: str, client: str, approver: str, requested: datetime,
             revision: int) -> Event | None:
    """Approve a waiting draft: mostly within the day, some after a reminder or escalation."""
    rng = chance("approval", invoice_id, revision)
    route = year.route(client)
    reminded = requested + route.remind_after.as_timedelta()
    escalated = requested + route.escalate_after.as_timedelta()
    draw = rng.random()
    if invoice_id in FINANCE_APPROVALS or draw >= SLOW_SHARE + STALLED_SHARE:
        earliest = requested + timedelta(minutes=rng.randint(15, 150))
    elif draw < STALLED_SHARE:
        earliest = escalated + timedelta(minutes=rng.randint(30, 240))
    else:
        earliest = reminded + timedelta(minutes=rng.randint(30, 480))
    at = office_instant(year.calendar, earliest, rng)
    if at is None:
        return None  # waits for the new year
    if at in (reminded, escalated):
        at += timedelta(minutes=1)
    payload = {"invoice": invoice_id}
    if invoice_id in FINANCE_APPROVALS:
        payload.update(by=FINANCE_APPROVER, comment=FINANCE_APPROVALS[invoice_id])
    elif at > escalated:
        payload["by"] = year.person(client, route.escalate_to)
        payload["comment"] = "Approved after the escalation."
    else:
        payload["by"] = approver
    return envelope(f"appr-{invoice_id}-r{revision}", "invoice.approved", at, payload)


def answer_requests(year: Year, seen: Seen) -> tuple[list[Event], dict[str, Issue]]:
    """Approve, flag or void every draft that waits for a person; return what gets issued.

    Late fees are left to `late_fees`, which foresees them from the payment plan.
    """
    events, issues = [], {}
    for request in seen.requests:
        invoice = request.payload["invoice"]
        invoice_id, client = invoice["id"], invoice["client"]
        revision = int(request.id.rsplit(":r", 1)[1])
        if is_late_fee(invoice_id):
            continue
        if revision == 1 and invoice_id in DRAFT_VOIDS:
            by, reason = DRAFT_VOIDS[invoice_id]
            rng = chance("void", invoice_id)
            at = office_instant(year.calendar,
                                request.at + timedelta(minutes=rng.randint(60, 300)), rng)
            if at is not None:
                events.append(envelope(f"void-{invoice_id}", "invoice.voided", at,
                                       {"invoice": invoice_id, "by": by, "reason": reason}))
            continue
        if revision == 1 and invoice_id in FLAGS:
            events += flag_and_adjust(year, request)
            continue
        approved = approval(year, invoice_id, client, request.payload["approver"], request.at,
                            revision)
        if approved is not None:
            events.append(approved)
            issues[invoice_id] = Issue(
                invoice_id, client, invoice["currency"], Decimal(invoice["total"]), approved.at,
                (1, approved.body["id"]), year.due_date(client, approved.at))
    return events, issues


def flag_and_adjust(year: Year, request) -> list[Event]:
    """Flag a draft for edits; the account lead adjusts it one to three business days later."""
    invoice = request.payload["invoice"]
    flag = FLAGS[invoice["id"]]
    rng = chance("flag", invoice["id"])
    escalate_to = year.person(invoice["client"], year.route(invoice["client"]).escalate_to)
    if flag.by not in {request.payload["approver"], escalate_to} | year.finance:
        raise SystemExit(f"{flag.by} may not flag {invoice['id']}")
    at = office_instant(year.calendar, request.at + timedelta(minutes=rng.randint(15, 150)), rng)
    if at is None:
        return []
    flagged = envelope(f"flag-{invoice['id']}", "invoice.flagged", at,
                       {"invoice": invoice["id"], "by": flag.by, "comment": flag.comment})
    day = year.calendar.add_business_days(at.date(), rng.randint(1, 3))
    adjusted_at = year.calendar.at_local(day, time(rng.randint(10, 15), rng.randrange(0, 60, 5)))
    payload = {"invoice": invoice["id"], **adjustment(invoice, flag),
               "by": year.lead(invoice["client"])}
    return [flagged, envelope(f"adjust-{invoice['id']}", "invoice.adjusted", adjusted_at, payload)]


def adjustment(invoice: dict, flag: Flag) -> dict:
    """Return the lines an account lead adds or removes for a flag, read from the draft."""
    currency, lines = invoice["currency"], invoice["lines"]
    if flag.edit == "remove":
        doomed = list(dict.fromkeys(line["description"] for line in lines
                                    if line["description"].startswith(flag.value)))
        if not doomed:
            raise SystemExit(f"{invoice['id']} has no line '{flag.value}' to remove")
        return {"lines_remove": doomed}
    if flag.edit == "discount":
        credit = percent_of(Decimal(invoice["subtotal"]), Decimal(flag.value), currency)
    else:
        hours = sum(Decimal(line["amount"]) for line in lines
                    if not line["description"].startswith("Expense "))
        credit = hours - Decimal(flag.value)
    if credit <= 0:
        raise SystemExit(f"{invoice['id']}: nothing to take off for '{flag.comment}'")
    return {"lines_add": [{"description": flag.line, "quantity": "1",
                           "unit_price": "-" + format_money(credit, currency)}]}


def expected_issues(year: Year, seen: Seen, approved: dict[str, Issue]) -> dict[str, Issue]:
    """Return every invoice issued without a person (from the replay) and those approved."""
    issues = {}
    for index, (invoice_id, action) in enumerate(seen.issued.items()):
        if invoice_id in approved or is_late_fee(invoice_id):
            continue
        invoice = action.payload["invoice"]
        issues[invoice_id] = Issue(
            invoice_id, invoice["client"], invoice["currency"], Decimal(invoice["total"]),
            action.at, (0, index), date.fromisoformat(invoice["due_date"]))
    issues.update(approved)
    for invoice_id, used in seen.credit_used.items():
        if invoice_id in issues:
            issues[invoice_id].owed -= used
    return issues


def reissue(year: Year, seen: Seen, issues: dict[str, Issue]) -> tuple[list[Event], set[str]]:
    """Void an issued invoice and export its timesheet again with the tasks corrected."""
    events, voided = [], set()
    for invoice_id, story in REISSUES.items():
        if invoice_id not in issues:
            continue
        voided.add(invoice_id)
        day = year.calendar.add_business_days(issues[invoice_id].at.date(), story.after_days)
        at = year.calendar.at_local(day, time(11, 5))
        events.append(envelope(f"void-{invoice_id}", "invoice.voided", at,
                               {"invoice": invoice_id, "by": story.by, "reason": story.reason}))
        rows = seen.drafted[invoice_id].payload["supporting"]["time"]
        for row in rows:
            payload = dict(year.originals[row["event"]]["payload"])
            if payload.get("task") == story.task_from:
                payload["task"] = story.task_to
            events.append(envelope(f"{row['event']}-corrected", "time.approved",
                                   at + timedelta(minutes=25), payload))
    return events, voided


def disputes(year: Year, issues: dict[str, Issue]) -> tuple[list[Event], dict[str, date]]:
    """Dispute an invoice before it falls due and drop the dispute later; return the pay days."""
    events, pay_days = [], {}
    for invoice_id, story in DISPUTES.items():
        if invoice_id not in issues:
            continue
        due = issues[invoice_id].due
        start = year.calendar.next_business_day(due - timedelta(days=story.days_before_due))
        end = year.calendar.next_business_day(start + timedelta(days=story.lasts_days))
        if end >= due + timedelta(days=LATE_FEE_AFTER_DAYS):
            raise SystemExit(f"{invoice_id}: the dispute would run into the escalation")
        events.append(envelope(f"dispute-{invoice_id}", "invoice.disputed",
                               year.calendar.at_local(start, time(14, 20)),
                               {"invoice": invoice_id, "by": story.by, "reason": story.reason}))
        events.append(envelope(f"undispute-{invoice_id}", "invoice.undisputed",
                               year.calendar.at_local(end, time(11, 40)),
                               {"invoice": invoice_id, "by": story.by,
                                "comment": story.resolution}))
        pay_days[invoice_id] = year.calendar.add_business_days(end, story.paid_days_after)
    return events, pay_days


def pay(year: Year, issue: Issue, pay_days: dict[str, date], issues: dict[str, Issue],
        skip: set[str]) -> list[Payment]:
    """Plan how one invoice is paid: none, one or two payments (stories first, then habit)."""
    calendar, invoice_id, client = year.calendar, issue.id, issue.client
    if issue.owed <= 0 or invoice_id in UNPAID or invoice_id in skip \
            or invoice_id in TOGETHER.values():
        return []
    rng = chance("payment", invoice_id)
    habit = HABITS[client]
    offset = LATE_PAYMENTS.get(invoice_id, rng.randint(habit.early, habit.late))
    day = pay_days.get(invoice_id) or calendar.next_business_day(issue.due
                                                                  + timedelta(days=offset))
    style = "reference" if is_late_fee(invoice_id) else "habit"
    if invoice_id in TOGETHER:
        other = issues.get(TOGETHER[invoice_id])
        if other is None or other.id in skip:
            return []  # not issued yet (an early round)
        later = max(issue.due, other.due)
        day = calendar.next_business_day(later + ONE_DAY)
        plan = [Payment(bank_instant(calendar, day, rng), client, issue.currency,
                        other.owed + issue.owed, ((other.id, other.owed), (invoice_id, issue.owed)),
                        "payer")]
    elif invoice_id in INSTALMENTS:
        first = (issue.owed / 2).quantize(Decimal(1) if issue.currency == "JPY" else CENT)
        plan = [Payment(bank_instant(calendar, calendar.next_business_day(
                    issue.due + timedelta(days=days)), rng), client, issue.currency, share,
                    ((invoice_id, share),), "reference")
                for days, share in zip(INSTALMENTS[invoice_id], (first, issue.owed - first))]
    elif invoice_id in OVERPAID:
        amount = OVERPAID[invoice_id]
        plan = [Payment(bank_instant(calendar, day, rng), client, issue.currency, amount,
                        ((invoice_id, issue.owed),), "reference", credit=amount - issue.owed)]
    elif invoice_id in UNKNOWN_PAYERS:
        _, wait = UNKNOWN_PAYERS[invoice_id]
        assign_day = calendar.add_business_days(day, wait)
        plan = [Payment(bank_instant(calendar, day, rng), client, issue.currency, issue.owed,
                        ((invoice_id, issue.owed),), "unknown",
                        assign_at=calendar.at_local(assign_day, time(rng.randint(9, 11),
                                                                      rng.randint(0, 59))))]
    else:
        plan = [Payment(bank_instant(calendar, day, rng), client, issue.currency, issue.owed,
                        ((invoice_id, issue.owed),), style)]
    for payment in plan:
        if payment.at <= issue.at:
            payment.at = bank_instant(calendar, calendar.add_business_days(issue.at.date(), 1),
                                      rng)
    return [] if any(p.at.date() > LAST_DAY for p in plan) else plan  # or paid next year


def late_fees(year: Year, issues: dict[str, Issue], payments: list[Payment],
              pay_days: dict[str, date], skip: set[str]) -> tuple[list[Event], dict[str, Decimal]]:
    """Foresee the late fees the plan's payments cause; approve, issue and pay them.

    The 30-day escalation drafts a late fee at the start of the 31st day past due for an
    invoice still open then; the fee goes to the route's last approver (the account lead).
    """
    events, fees = [], {}
    for parent in sorted(issues.values(), key=lambda i: (i.at, i.order)):
        check = year.calendar.start_of_day(parent.due + timedelta(days=LATE_FEE_AFTER_DAYS + 1))
        if parent.id in skip or parent.owed <= 0 or check.date() > LAST_DAY:
            continue
        shares = [(p.at, share) for p in payments for target, share in p.targets
                  if target == parent.id]
        if shares and max(at for at, _ in shares) <= check:
            continue  # paid in full in time
        balance = parent.owed - sum((share for at, share in shares if at <= check), Decimal(0))
        fee_id = f"{parent.id}{LATE_FEE_SUFFIX}"
        fees[fee_id] = percent_of(balance, year.late_fee_percent, parent.currency)
        if fees[fee_id] <= 0:
            del fees[fee_id]
            continue
        route = year.route(parent.client)
        approved = approval(year, fee_id, parent.client,
                            year.person(parent.client, route.rules[-1].approver), check, 1)
        if approved is None:
            continue
        events.append(approved)
        fee = Issue(fee_id, parent.client, parent.currency, fees[fee_id], approved.at,
                    (1, approved.body["id"]), year.due_date(parent.client, approved.at))
        issues[fee_id] = fee
        if shares and parent.id not in UNPAID:
            payments += pay(year, fee, pay_days, issues, skip)
    return events, fees


def number_issues(year: Year, issues: dict[str, Issue]) -> None:
    """Number the invoices in the order the engine will issue them."""
    sequences: dict[str, int] = {}
    numbering = year.engine_rules.agency.numbering
    for issue in sorted(issues.values(), key=lambda i: (i.at, i.order)):
        issue.number = next_number(numbering, sequences, issue.at.date())


def name_payments(year: Year, issues: dict[str, Issue], payments: list[Payment]) -> None:
    """Write each payment as the bank shows it, quoting a number where it must.

    Without a reference the engine takes the client's oldest open invoice of exactly that
    amount, then the oldest set of invoices adding up to it; a payment meant for a newer
    invoice quotes its number instead, and one meant for several must find exactly them.
    """
    def open_at(client, currency, at):
        found = []
        for issue in issues.values():
            if (issue.client, issue.currency) != (client, currency) or issue.at >= at:
                continue
            paid = sum((share for p in payments if p.at < at
                        for target, share in p.targets if target == issue.id), Decimal(0))
            if issue.owed - paid > 0:
                found.append((issue.id, issue.owed - paid))
        return sorted(found, key=lambda item: (issues[item[0]].due, issues[item[0]].at.date(),
                                               issues[item[0]].number))

    for payment in payments:
        issue = issues[payment.targets[0][0]]
        habit = HABITS[payment.client]
        name = year.engine_rules.clients[payment.client].name.upper()
        style = habit.style if payment.style == "habit" else payment.style
        if style == "payer" and len(payment.targets) == 1:
            candidates = open_at(payment.client, payment.currency, payment.at)
            exact = [invoice_id for invoice_id, left in candidates if left == payment.amount]
            if exact[:1] != [issue.id]:
                style = "reference"  # an older invoice of the same amount is still open
        if style == "reference":
            text = habit.text if habit.style == "reference" else "{number}"
            payment.fields = {"reference": text.format(number=issue.number), "payer": name}
        elif style == "client":
            payment.fields = {"reference": habit.text.format(number=issue.number),
                              "client": payment.client}
        elif style == "unknown":
            payment.fields = {"payer": UNKNOWN_PAYERS[issue.id][0]}
        elif len(payment.targets) == 1:
            payment.fields = {"payer": habit.text if habit.style == "payer" else name}
        else:
            payment.fields = {"payer": name}
            wanted = tuple(target for target, _ in payment.targets)
            window = open_at(payment.client, payment.currency, payment.at)[:20]
            found = next((tuple(i for i, _ in combo) for size in range(2, 6)
                          for combo in itertools.combinations(window, size)
                          if sum(left for _, left in combo) == payment.amount), None)
            if any(left == payment.amount for _, left in window) or found != wanted:
                raise SystemExit(f"a payment of {payment.amount} {payment.currency} would not "
                                 f"settle exactly {', '.join(wanted)}")


def payment_events(payments: list[Payment]) -> list[Event]:
    """Number the payments in the order they arrive and turn them into events."""
    payments.sort(key=lambda p: (p.at, p.targets[0][0]))
    events = []
    for number, payment in enumerate(payments, start=1):
        payment.id = f"pay-2026-{number:04d}"
        payload = {"amount": format_money(payment.amount, payment.currency),
                   "currency": payment.currency, "date": payment.at.date().isoformat(),
                   **payment.fields, "source_id": f"hmb:{payment.at:%Y%m%d}-{number:04d}"}
        events.append(envelope(payment.id, "payment.received", payment.at, payload))
        if payment.assign_at is not None:
            events.append(envelope(f"assign-{payment.id}", "payment.assigned", payment.assign_at,
                                   {"payment": payment.id, "by": FINANCE_APPROVER,
                                    "invoice": payment.targets[0][0]}))
    return events


def plan_stage_two(year: Year, actions) -> Plan:
    """Answer what one replay decided: approvals, edits, voids, disputes and payments."""
    seen = read_actions(actions)
    events, approved = answer_requests(year, seen)
    issues = expected_issues(year, seen, approved)
    voids, voided = reissue(year, seen, issues)
    disputed, pay_days = disputes(year, issues)
    payments = [payment for issue in sorted(issues.values(), key=lambda i: (i.at, i.order))
                for payment in pay(year, issue, pay_days, issues, voided)]
    fee_approvals, fees = late_fees(year, issues, payments, pay_days, voided)
    number_issues(year, issues)
    name_payments(year, issues, payments)
    events += voids + disputed + fee_approvals + payment_events(payments)
    events.sort(key=lambda e: (e.at, e.body["id"]))
    return Plan(events, issues, payments, fees)


def complete_year(rules: Rules, first: list[Event]):
    """Add the second stage to the first: replay, answer, and again until nothing changes.

    Return the whole year's events, ordered by `at` (first-stage events first at equal
    instants), and the final replay.
    """
    year = Year(rules, first)
    added: list[Event] = []
    for _ in range(ROUNDS):
        result = year.replay(added)
        plan = plan_stage_two(year, result.actions)
        if [e.body for e in plan.events] == [e.body for e in added]:
            check_year(plan, result)
            return list(heapq.merge(first, added, key=lambda e: e.at)), result
        added = plan.events
    raise SystemExit(f"the second stage did not settle in {ROUNDS} rounds")


def check_year(plan: Plan, result) -> None:
    """Refuse a year the engine rejects, or that went otherwise than the plan foresaw."""
    if result.errors:
        raise SystemExit("the engine rejected events: "
                         + "; ".join(str(error) for error in result.errors[:5]))
    seen = read_actions(result.actions)
    numbers = {i: a.payload["invoice"]["number"] for i, a in seen.issued.items()}
    foreseen = {i: issue.number for i, issue in plan.issues.items()}
    if numbers != foreseen:
        wrong = sorted(set(numbers.items()) ^ set(foreseen.items()))[:4]
        raise SystemExit(f"the engine numbered invoices otherwise than foreseen: {wrong}")
    drafted = {i: Decimal(a.payload["invoice"]["total"]) for i, a in seen.drafted.items()
               if is_late_fee(i)}
    if drafted != plan.fees:
        raise SystemExit(f"late fees otherwise than foreseen: {drafted} != {plan.fees}")
    applied = {a.payload["payment"]["id"]: a for a in result.actions if a.type == "payment.applied"}
    unmatched = {a.payload["payment"]["id"] for a in result.actions
                 if a.type == "payment.unmatched"}
    for payment in plan.payments:
        action = applied.get(payment.id)
        got = None if action is None else (
            [(a["invoice"], Decimal(a["amount"])) for a in action.payload["allocations"]],
            Decimal(action.payload["credit"]))
        if got != (list(payment.targets), payment.credit) \
                or (payment.assign_at is not None) != (payment.id in unmatched):
            raise SystemExit(f"{payment.id} was meant for {payment.targets}, the engine did {got}")
    invoices = result.state.invoices
    settled = {target for payment in plan.payments for target, _ in payment.targets}
    stories = {
        "flagged": [i for i in FLAGS if invoices[i].revision < 2],
        "voided": [i for i in (*DRAFT_VOIDS, *REISSUES) if invoices[i].status != "voided"],
        "unpaid": [i for i in UNPAID if not invoices[i].is_open],
        "paid late": [i for i in LATE_PAYMENTS if f"{i}{LATE_FEE_SUFFIX}" not in invoices],
        "negative balance": [i.id for i in invoices.values() if i.balance < 0],
        "paid as planned": [i for i in (*TOGETHER, *INSTALMENTS, *OVERPAID, *UNKNOWN_PAYERS,
                                        *DISPUTES) if i not in settled],
    }
    for what, wrong in stories.items():
        if wrong:
            raise SystemExit(f"not {what} as the story says: {', '.join(wrong)}")


def aging_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    for limit, name in ((30, "1-30"), (60, "31-60"), (90, "61-90")):
        if days_overdue <= limit:
            return name
    return "90+"


def summarize_money(events: list[Event], result) -> str:
    """Describe the year's second stage: what people did, and the money per currency."""
    counts = Counter(e.body["type"] for e in events)
    decided = Counter(a.type for a in result.actions)
    lines = ["the whole year: events per type"]
    lines += [f"  {kind:<20} {n:>6}" for kind, n in sorted(counts.items())]
    lines.append("what the engine decided")
    lines += [f"  {kind:<20} {n:>6}" for kind, n in sorted(decided.items())]
    money: dict = defaultdict(lambda: defaultdict(Decimal))
    for invoice in result.state.invoices.values():
        if invoice.number is None:
            continue
        totals = money[invoice.currency]
        if invoice.status == "voided":
            totals["voided after issue"] += invoice.total
            continue
        totals["invoiced"] += invoice.total
        if invoice.is_open:
            totals["open at year end"] += invoice.balance
            overdue = (LAST_DAY - invoice.due_date).days
            totals[f"  aging {aging_bucket(overdue)}"] += invoice.balance
    for event in events:
        if event.body["type"] == "payment.received":
            p = event.body["payload"]
            money[p["currency"]]["collected"] += Decimal(p["amount"])
    for (_, currency), credit in result.state.credits.items():
        money[currency]["client credit"] += credit
    order = ["invoiced", "voided after issue", "collected", "client credit", "open at year end"]
    order += [f"  aging {b}" for b in ("current", "1-30", "31-60", "61-90", "90+")]
    lines.append("the year's money per currency (invoiced excludes voided invoices)")
    for currency in sorted(money):
        lines.append(f"  {currency}")
        lines += [f"    {name:<22} {format_money(money[currency][name], currency):>16}"
                  for name in order if name in money[currency]]
    return "\n".join(lines)


def write_events(events: list[Event], out_path: Path) -> None:
    """Write the events as NDJSON, one object a line."""
    with Path(out_path).open("w", encoding="utf-8", newline="\n") as handle:
        for event in events:
            handle.write(json.dumps(event.body, ensure_ascii=False) + "\n")


def summarize(rules: Rules, events: list[Event]) -> str:
    """Describe the history: events per type, hours per client, retainer overage months."""
    lines = [f"{len(events)} events ({len({e.body['id'] for e in events})} distinct ids)"]
    lines += [f"  {kind:<20} {n:>6}" for kind, n in sorted(Counter(
        e.body["type"] for e in events).items())]
    unapproved = {e.body["payload"]["source_id"] for e in events
                  if e.body["type"] == "time.unapproved"}
    hours: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    by_month: dict = defaultdict(Decimal)
    seen = set(unapproved)
    for event in events:
        p = event.body["payload"]
        if event.body["type"] != "time.approved" or p["source_id"] in seen:
            continue
        seen.add(p["source_id"])
        hours[p["client"]][0] += Decimal(p["hours"]) if p["billable"] else 0
        hours[p["client"]][1] += Decimal(p["hours"])
        if p["billable"]:
            by_month[(p["project"], int(p["date"][5:7]))] += Decimal(p["hours"])
    late = [e for e in events if e.body["type"] == "time.approved"
            and (e.at.date() - date.fromisoformat(e.body["payload"]["date"])).days >= 14]
    lines.append(f"time approved two weeks or more after the work: {len(late)} entries")
    lines.append("hours per client (billable / all):")
    lines += [f"  {c:<22} {b:>9} / {a:>9}" for c, (b, a) in sorted(hours.items())]
    lines.append("months over included hours (billable time by service date):")
    for client, spec in rules.clients.items():
        for engagement in spec.get("engagements", ()):
            if engagement.get("included_hours") is None:
                continue
            logged = [sum(by_month[(p, m)] for p in engagement["projects"]) for m in range(1, 13)]
            over = sum(h > engagement["included_hours"] for h in logged)
            name = f"{client}/{engagement['id']}"
            lines.append(f"  {name:<40} {over:>2} of 12 over {engagement['included_hours']} h")
    return "\n".join(lines)


def main(out_path: Path | str = DEFAULT_OUT):
    """Generate the history from the rule files beside this script and write it to `out_path`.

    Return the engine's replay of the year it wrote (its actions, errors and end state).
    """
    rules = load_rules(RULES_DIR)
    first = generate(rules)
    events, result = complete_year(rules, first)
    write_events(events, Path(out_path))
    print(summarize(rules, first))
    print(summarize_money(events, result))
    return result


if __name__ == "__main__":
    main()
