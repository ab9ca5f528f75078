"""The metrics page (`/insights`): SPEC §7's numbers over the last twelve months, with charts.

DSO, on-time rate, approval wait, touches per invoice and aging, each as a headline for
the whole window and as an SVG chart of its monthly values with the same figures in a
table. Money metrics are per currency (`?currency=EUR`; the agency's own by default).
`/metrics` stays the Prometheus text endpoint; `/reports` leads here.
"""

from __future__ import annotations

from decimal import Decimal

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.web.auth import Viewer, backend_of, requires_viewer
from engine.web.charts import Stack, line_chart, stacked_bar_chart
from engine.web.render import render
from engine.web.status import wording
from engine.web.views import BUCKET_NAMES, Trends, bucket_label, history_of, trends

__all__ = ["routes", "charts_of"]


def _labels(data: Trends) -> list[str]:
    return [month.start.strftime("%b") for month in data.months]


def charts_of(data: Trends, currency: str) -> dict[str, Markup]:
    """Return the page's five charts for `currency`."""
    labels = _labels(data)
    first, last = data.months[0].label, data.months[-1].label
    span = f"from {first} to {last}"
    aging = [month.aging_in(currency) for month in data.months]
    return {
        "dso": line_chart(
            "chart-dso", f"DSO in {currency}, by month",
            f"Days sales outstanding of each month {span}: receivables at the month's end "
            f"divided by what was invoiced in it, times its days.", labels,
            [month.dso_in(currency) for month in data.months], "days"),
        "on_time": line_chart(
            "chart-on-time", "On-time rate, by month",
            f"Share of the invoices issued each month {span} that went out within the "
            f"agency's send-within target of their trigger.", labels,
            [month.on_time_rate for month in data.months], "%"),
        "approval": line_chart(
            "chart-approval", "Median approval wait, by month",
            f"Median hours from the approval request to issue, over the invoices a person "
            f"approved each month {span}.", labels,
            [month.approval_median_hours for month in data.months], "hours"),
        "touches": line_chart(
            "chart-touches", "Touches per invoice, by month",
            f"Human events (approvals, flags, adjustments, voids, disputes, payment "
            f"assignments) per invoice issued each month {span}.", labels,
            [month.touches_per_invoice for month in data.months], "touches"),
        "aging": stacked_bar_chart(
            "chart-aging", f"Aging in {currency} at each month's end",
            f"Open balances in {currency} at the end of each month {span}, stacked by days "
            f"past due: current, 1–30, 31–60, 61–90 and over 90.", labels,
            [Stack(bucket_label(name),
                   tuple(row.buckets[index].amount if row else Decimal(0) for row in aging))
             for index, name in enumerate(BUCKET_NAMES)], currency),
    }


@requires_viewer
async def insights(request: Request, viewer: Viewer) -> Response:
    backend = backend_of(request)

    def read():  # type: ignore[no-untyped-def]
        history = history_of(backend)
        return history, trends(history)

    history, data = await run_in_threadpool(read)
    asked = request.query_params.get("currency") or ""
    currency = asked if asked in data.currencies else data.currencies[0]
    return render(request, "metrics.html.j2", title="Metrics", data=data, currency=currency,
                  charts=charts_of(data, currency), buckets=BUCKET_NAMES,
                  today=history.today, **wording(history.rules))


async def reports(request: Request) -> Response:
    return RedirectResponse("/insights", status_code=308)


routes = [
    Route("/insights", insights, methods=["GET"], name="insights"),
    Route("/reports", reports, methods=["GET"]),
]
