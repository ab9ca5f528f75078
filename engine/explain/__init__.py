"""`billflow explain`: why an action was decided — over the daemon's store or a replay."""

from engine.explain.replay import explain_replay
from engine.explain.text import action_header, timer_cause

__all__ = ["explain_replay", "action_header", "timer_cause"]
