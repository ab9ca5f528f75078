"""Collections: the daily escalation check finds the late invoices through an index of the
open invoices by due date; it must find exactly what a look at every open invoice finds."""

from __future__ import annotations

import gc
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.replay import read_events, replay
from engine.core.state import EngineState
from engine.model.invoice import Invoice, make_line
from engine.ruleset.loader import load_ruleset
from engine.workflow import collections as collections_module
from engine.workflow.collections import _due_dates

D = Decimal
TODAY = date(2026, 6, 15)


def _issued(number: int, due: date) -> Invoice:
    draft = Invoice.draft(id=f"acme/web/{number:03d}", client="acme", engagement="web",
                          currency="USD", lines=(make_line("Design", D(1), D(100), "USD"),),
                          tax_rate=None, tax_label=None, trigger="billing_day")
    return draft.replace(status="issued", number=f"INV-{number}", issue_date=due,
                         due_date=due)


def _scan(state: EngineState, today: date) -> list[str]:
    """The ids of the open invoices due before `today`, by due date: every one looked at."""
    due = [(state.invoices[i].due_date, i) for i in state.open_ids]
    return [i for day, i in sorted(due) if day is not None and day < today]


# A history: each step issues an invoice (due some days around TODAY), pays one in full,
# or looks at the late ones on a day.
_STEPS = st.lists(st.one_of(
    st.tuples(st.just("issue"), st.integers(-40, 40)),
    st.tuples(st.just("pay"), st.integers(0, 1000)),
    st.tuples(st.just("look"), st.integers(-40, 40)),
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(_STEPS)
def test_the_late_invoices_are_those_a_look_at_every_open_invoice_finds(steps) -> None:
    state = EngineState(go_live=date(2026, 1, 1))
    index = _due_dates(state)
    issued = 0
    for action, value in steps:
        if action == "issue":
            issued += 1
            state.put_invoice(_issued(issued, TODAY + timedelta(days=value)))
        elif action == "pay" and state.open_ids:
            paid = sorted(state.open_ids)[value % len(state.open_ids)]
            state.put_invoice(state.invoices[paid].replace(balance=D(0), status="paid"))
        else:
            day = TODAY + timedelta(days=value)
            assert index.past_due(state, day) == _scan(state, day)
    assert index.past_due(state, TODAY) == _scan(state, TODAY)


def test_a_state_gets_an_index_of_its_own_which_goes_with_it() -> None:
    first, second = EngineState(go_live=date(2026, 1, 1)), EngineState(go_live=date(2026, 1, 1))
    assert _due_dates(first) is _due_dates(first)
    assert _due_dates(first) is not _due_dates(second)
    key = id(first)
    del first
    gc.collect()
    assert key not in collections_module._DUE_DATES


def test_an_invoice_is_remembered_for_escalation_only_once_a_rule_fired() -> None:
    northwind = Path(__file__).resolve().parents[2] / "examples" / "northwind"
    result = replay(load_ruleset(northwind), read_events(northwind / "events.ndjson"),
                    date(2026, 1, 1), date(2026, 6, 30))
    state = result.state
    assert state is not None
    fired = {action.payload["invoice"]["id"] for action in result.actions
             if action.type == "escalation.triggered"}
    assert fired and set(state.escalations_fired) == fired
    assert all(state.escalations_fired.values())
