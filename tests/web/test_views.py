"""The read models over a real store: northwind's year decided by the real daemon."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.reports.aging import aging_report
from engine.reports.dso import dso_report
from engine.reports.ledger import build_ledger
from engine.reports.on_time import on_time_report
from engine.reports.render import hours
from engine.runtime.sqlite_store import SqliteStore
from engine.web.views import (
    Money, account_leads, client_status, client_statuses, finance_queue, read_history,
    to_json, trends, visible_clients,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _status_fixtures import NOW, STRAY_PAYMENT, Site, northwind_site  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with northwind_site(tmp_path_factory.mktemp("northwind")) as running:
        yield running


@pytest.fixture()
def history(site: Site):  # type: ignore[no-untyped-def]
    return read_history(site.daemon.store, site.daemon.keeper.active, NOW)


def test_an_account_lead_sees_the_clients_they_lead_finance_sees_all(history) -> None:
    rules = history.rules
    sams = visible_clients(rules, "sam", finance=False)
    assert sams and all(rules.clients[c].account_lead == "sam" for c in sams)
    assert set(visible_clients(rules, "dana", finance=True)) == set(rules.clients)
    assert visible_clients(rules, "dana", finance=True, lead="sam") == sams
    assert visible_clients(rules, "zoe", finance=False) == []
    leads = account_leads(rules, list(rules.clients))
    assert ("sam", "Sam Lee") in leads and len(leads) == len({c.account_lead
                                                              for c in rules.clients.values()})


def test_every_invoice_of_the_state_lands_in_exactly_one_list(history) -> None:
    statuses = client_statuses(history, list(history.rules.clients))
    listed: list[str] = []
    for status in statuses:
        listed += [i.id for i in status.drafts + status.issued + status.paid]
        listed += [w.invoice.id for w in status.awaiting]
        listed += [o.invoice.id for o in status.overdue]
    assert len(listed) == len(set(listed))
    not_voided = {i.id for i in history.state.invoices.values() if i.status != "voided"}
    assert set(listed) == not_voided


def test_aging_and_credit_equal_the_aging_report_of_the_same_actions(history, site) -> None:
    report = aging_report(build_ledger(site.daemon.store.actions()), history.today)
    expected = {(row.client, row.currency): (row.buckets, row.credit) for row in report.rows}
    found = {}
    for status in client_statuses(history, list(history.rules.clients)):
        for row in status.aging:
            found[(status.id, row.currency)] = (tuple(m.amount for m in row.buckets),
                                                row.credit.amount)
            assert row.total.amount == sum(m.amount for m in row.buckets)
    assert found == expected


def test_overdue_invoices_carry_their_reminders_and_escalations(history, site) -> None:
    follow_ups = [a for a in site.daemon.store.actions(
        types=["reminder.sent", "escalation.triggered"])]
    statuses = client_statuses(history, list(history.rules.clients))
    overdue = [item for status in statuses for item in status.overdue]
    assert overdue
    for item in overdue:
        assert item.days_overdue == (history.today - item.invoice.due_date).days > 0
        sent = [a for a in follow_ups if a["payload"]["invoice"]["id"] == item.invoice.id]
        assert [f.at.isoformat() for f in item.follow_ups] == [a["at"] for a in sent]
    assert any(f.kind == "escalation" for item in overdue for f in item.follow_ups)


def test_awaiting_approval_says_with_whom_and_for_how_long(history) -> None:
    waits = [w for s in client_statuses(history, list(history.rules.clients)) for w in s.awaiting]
    assert len(waits) == len(history.state.awaiting)
    for wait in waits:
        engine_wait = history.state.awaiting[wait.invoice.id]
        assert wait.approver == engine_wait.approver
        assert wait.approver_name == history.rules.agency.people[wait.approver].name
        assert wait.since == engine_wait.requested_at
        assert wait.waiting_hours == hours(NOW - engine_wait.requested_at)


def test_unknown_clients_have_no_status(history) -> None:
    assert client_status(history, "no-such-client") is None


def test_the_queue_holds_the_unmatched_payment_with_its_reason_and_choices(history) -> None:
    queue = finance_queue(history)
    [payment] = [p for p in queue.unmatched if p.id == STRAY_PAYMENT["id"]]
    assert payment.amount == Money(Decimal("10887.50"), "USD")
    assert payment.payer == "BHG HOLDINGS INTL" and payment.reason.startswith("unknown payer")
    assert payment.invoices and all(c.balance.currency == "USD" for c in payment.invoices)
    open_usd = {i.id for i in history.state.open_invoices() if i.currency == "USD"}
    assert {c.invoice for c in payment.invoices} == open_usd
    assert len(payment.clients) == len(history.rules.clients)


def test_the_queue_lists_the_dead_letters_and_late_approvals(history, site) -> None:
    queue = finance_queue(history)
    assert [d.action for d in queue.dead_letters] == [
        row.action_id for row in site.daemon.store.dead_letters()]
    assert all(d.type == "escalation.triggered" and d.connector == "hook"
               for d in queue.dead_letters)
    escalated = {a["payload"]["invoice"]["id"]
                 for a in site.daemon.store.actions(types=["approval.escalated"])}
    assert queue.late_approvals
    for late in queue.late_approvals:
        assert late.since < late.due_by < NOW
        assert not late.escalated or late.invoice in escalated
    assert not queue.degraded


def test_a_failed_rule_reload_is_on_the_queue_until_a_good_one(tmp_path: Path, site) -> None:
    rules = site.daemon.keeper.active
    store = SqliteStore(tmp_path / "store.db")
    try:
        store.record_rules(rules.version, NOW - timedelta(hours=2), True, (), "start")
        store.record_rules("", NOW - timedelta(hours=1), False,
                           ("rules/agency.yaml:9:3: unknown key 'curency'",), "watch")
        queue = finance_queue(read_history(store, rules, NOW))
        assert queue.degraded and queue.rules_version == rules.version
        assert queue.rules_problems[0].errors == ("rules/agency.yaml:9:3: unknown key 'curency'",)
        store.record_rules(rules.version, NOW, True, (), "watch")
        assert not finance_queue(read_history(store, rules, NOW)).degraded
    finally:
        store.close()


def test_trends_are_the_reports_month_by_month(history) -> None:
    data = trends(history)
    assert len(data.months) == 12 and data.months[-1].end == history.today
    assert data.currencies[0] == history.rules.agency.currency
    ledger = history.ledger
    agency = history.rules.agency
    for month in data.months:
        dso = dso_report(ledger, month.start, month.end)
        assert [(row.currency, row.dso) for row in dso.rows] == [
            (row.currency, row.dso) for row in month.dso]
        on_time = on_time_report(ledger, month.start, month.end, agency.defaults.send_within,
                                 agency.calendar)
        assert (month.issued, month.on_time_rate) == (on_time.total.issued, on_time.total.rate)
    assert sum(m.issued for m in data.months) == data.window.issued
    # A month counts the touches up to its own end; the window also those made later
    # (a dispute in March of a January invoice).
    assert sum(m.touches for m in data.months) <= data.window.touches


def test_json_has_money_as_decimal_strings_and_no_floats(history) -> None:
    body = to_json(client_statuses(history, list(history.rules.clients)))
    text = json.dumps(body)

    def walk(value):  # type: ignore[no-untyped-def]
        assert not isinstance(value, float)
        if isinstance(value, dict):
            if set(value) == {"amount", "currency"}:
                assert isinstance(value["amount"], str)
                Decimal(value["amount"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(text))
    walk(to_json(trends(history)))
