"""The SVG charts: well-formed, named and described, gaps for missing months, exact ticks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from engine.web.charts import Stack, axis_ticks, line_chart, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ["Jan", "Feb", "Mar", "Apr"]


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_a_line_chart_is_an_image_named_by_its_title_and_desc() -> None:
    svg = parse(line_chart("c1", "DSO <USD>", "Days & more", LABELS,
                           [Decimal("30.5"), Decimal("41"), None, Decimal("12.25")], "days"))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c1-title c1-desc"
    assert svg.find(f"{SVG}title").text == "DSO <USD>"
    assert svg.find(f"{SVG}desc").text == "Days & more"
    # The missing month breaks the line: one run of two points, one lone point.
    assert len(svg.findall(f"{SVG}polyline")) == 1
    assert len(svg.findall(f"{SVG}circle")) == 3
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert all(label in texts for label in LABELS)


def test_a_chart_without_data_says_so() -> None:
    svg = parse(line_chart("c2", "t", "d", LABELS, [None] * 4))
    assert "No data yet" in [t.text for t in svg.iter(f"{SVG}text")]


def test_stacked_bars_draw_each_positive_layer_with_a_legend() -> None:
    svg = parse(stacked_bar_chart("c3", "Aging", "d", LABELS[:2], [
        Stack("Current", (Decimal("100.00"), Decimal("0"))),
        Stack("1–30 days", (Decimal("50.00"), Decimal("25.50")))], "USD"))
    bars = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 3
    assert {t.text for t in svg.iter(f"{SVG}text")} >= {"Current", "1–30 days"}


def test_axis_ticks_are_round_decimals_that_reach_the_top() -> None:
    assert axis_ticks(Decimal("41.5")) == [Decimal(0), Decimal(20), Decimal(40), Decimal(60)]
    assert axis_ticks(Decimal("0.77"))[-1] >= Decimal("0.77")
    assert all(isinstance(t, Decimal) for t in axis_ticks(Decimal("260166.05")))
    assert axis_ticks(Decimal(0)) == [Decimal(0), Decimal(1)]
