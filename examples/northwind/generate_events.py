"""Generate Northwind Creative's 2026 event history (`events.ndjson`) from its rule files.

The history models one ordinary agency year. Staff log time on business days to the retainer
and hourly projects of the clients they are staffed on (a few entries per person, per week,
per project; busier and quieter months, so retainers with included hours sometimes run over);
account leads approve each week's timesheets the following Monday morning, some timesheets are
approved weeks late and a handful of entries are unapproved again a day or two later;
producers file expenses for shoots, travel, printing and user testing; fixed-fee projects
complete their milestones in order, some finishing within the year and some not. The studio
closes from Christmas Eve to New Year. One event is delivered twice, as webhooks sometimes are.

Everything is drawn from one seeded random generator and no clock, so every run writes the
same file, byte for byte. From the repository root:

    python examples/northwind/generate_events.py
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

# Lets the script run from a checkout without billflow being installed.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from engine.model.calendar import AgencyCalendar  # noqa: E402

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


def main(out_path: Path | str = DEFAULT_OUT) -> None:
    """Generate the history from the rule files beside this script and write it to `out_path`."""
    rules = load_rules(RULES_DIR)
    events = generate(rules)
    write_events(events, Path(out_path))
    print(summarize(rules, events))


if __name__ == "__main__":
    main()
