"""`billflow plan`: what a rule change adds, removes and alters, before it bills anyone."""

from engine.plan.base import BaseRules, base_rules
from engine.plan.command import PlanSide, plan_change
from engine.plan.compare import ActionStreams, Comparison, compare_actions
from engine.plan.history import (
    COLLECTION_TAIL_DAYS, HISTORY_FILE, History, first_day, history_path, last_day,
    read_history,
)
from engine.plan.model import (
    CATEGORIES, ActionChange, Billed, ClientPlan, FieldChange, InvoiceChange, LineChange, Plan,
    Side, Tally,
)
from engine.plan.render_json import plan_json, render_json
from engine.plan.render_markdown import COMMENT_LIMIT, is_capped, render_markdown
from engine.plan.render_text import render_text

__all__ = [
    # base and history
    "BaseRules",
    "base_rules",
    "COLLECTION_TAIL_DAYS",
    "HISTORY_FILE",
    "History",
    "first_day",
    "history_path",
    "last_day",
    "read_history",
    # planning
    "PlanSide",
    "plan_change",
    "ActionStreams",
    "Comparison",
    "compare_actions",
    # the plan
    "CATEGORIES",
    "ActionChange",
    "Billed",
    "ClientPlan",
    "FieldChange",
    "InvoiceChange",
    "LineChange",
    "Plan",
    "Side",
    "Tally",
    # rendering
    "COMMENT_LIMIT",
    "is_capped",
    "plan_json",
    "render_json",
    "render_markdown",
    "render_text",
]
