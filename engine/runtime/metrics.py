"""Prometheus text exposition of the daemon's counters and gauges."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Metric", "render_metrics"]


@dataclass(frozen=True)
class Metric:
    """One metric family: name, type, help, and its samples ({labels}, value)."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: tuple[tuple[Mapping[str, str], float], ...] = field(default_factory=tuple)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(str(value))}"'
                          for key, value in sorted(labels.items())) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(metrics: Iterable[Metric]) -> str:
    """Render metric families in the Prometheus text format (version 0.0.4)."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            lines.append(f"{metric.name}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"
