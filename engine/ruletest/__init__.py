"""Scenario tests for rule sets: given events on a simulated clock, expect actions.

The files live beside the rules (`RULES/tests/*.yaml`) and run through `replay`, the same
core as simulate and the daemon; see docs/testing.md for the format.
"""

from engine.ruletest.model import Expectation, Scenario, ScenarioFile
from engine.ruletest.reader import read_scenario_file
from engine.ruletest.report import render_junit, render_text
from engine.ruletest.runner import FileResult, ScenarioResult, TestRun, run_scenario, run_tests
from engine.ruletest.stream import render_actions

__all__ = [
    "Expectation", "Scenario", "ScenarioFile", "read_scenario_file", "render_junit",
    "render_text", "FileResult", "ScenarioResult", "TestRun", "run_scenario", "run_tests",
    "render_actions",
]
