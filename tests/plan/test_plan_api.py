"""The public names of engine.plan: each one exported is defined, and none is missing."""

from __future__ import annotations

import engine.plan as plan_package


def test_every_exported_name_exists_and_is_listed_once() -> None:
    exported = plan_package.__all__
    assert len(exported) == len(set(exported))
    assert all(hasattr(plan_package, name) for name in exported)
    assert {"plan_change", "base_rules", "read_history", "render_text", "render_markdown",
            "render_json", "Plan"} <= set(exported)
