"""Fixed-fee projects: each milestone is invoiced once, when it is completed.

Percent milestones are rounded half-up and the last milestone (in the file's order)
absorbs the remainder, so the milestones add up to the fee exactly whatever order they
are completed in. The fee in force on the completion date applies.
"""

from __future__ import annotations

from decimal import Decimal

from engine.model.invoice import Line, make_line
from engine.model.money import display_money, split_by_percent
from engine.ruleset.types import Milestone, ProjectFixed

__all__ = ["milestone_line", "find_milestone"]


def find_milestone(engagement: ProjectFixed, milestone_id: str) -> Milestone | None:
    return next((m for m in engagement.milestones if m.id == milestone_id), None)


def milestone_line(engagement: ProjectFixed, milestone_id: str, currency: str) -> Line:
    """Return the invoice line for one milestone of the project."""
    milestones = engagement.milestones
    index = next(i for i, m in enumerate(milestones) if m.id == milestone_id)
    milestone = milestones[index]
    if milestone.amount is not None:
        return make_line(f"Milestone: {milestone.name}", Decimal(1), milestone.amount, currency)
    parts = split_by_percent(engagement.fee, [m.percent or Decimal(0) for m in milestones],
                             currency)
    percent = f"{(milestone.percent or Decimal(0)).normalize():f}"
    return make_line(f"Milestone: {milestone.name} ({percent}% of the "
                     f"{display_money(engagement.fee, currency)} fee)", Decimal(1), parts[index],
                     currency)
