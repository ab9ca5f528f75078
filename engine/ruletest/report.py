"""Render a test run for people (text) and for CI (JUnit XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.ruletest.runner import FileResult, ScenarioResult, TestRun

__all__ = ["render_text", "render_junit"]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _indented(text: str, indent: str) -> list[str]:
    return [f"{indent}{line}" if line else "" for line in text.splitlines()]


def _failure_text(result: ScenarioResult) -> str:
    lines = [f"{result.scenario.where}: {problem}" for problem in result.problems]
    if result.diff:
        lines += ["", result.diff]
    return "\n".join(lines)


def render_text(run: TestRun) -> str:
    """Return the run as text: each file, each test, and a diff under each failure."""
    out: list[str] = []
    for file in run.files:
        out.append(file.path)
        for error in file.errors:
            out.append(f"  ERROR {error}")
        for result in file.results:
            if result.passed:
                out.append(f"  ok    {result.scenario.name}")
                continue
            out.append(f"  FAIL  {result.scenario.name}")
            out.extend(_indented(_failure_text(result), "        "))
    out.extend(f"error: {problem}" for problem in run.problems)
    passed = run.selected - run.failed
    summary = (f"{_plural(run.selected, 'test')} in {_plural(len(run.files), 'file')}: "
               f"{passed} passed, {run.failed} failed")
    if run.broken_files:
        summary += f", {_plural(run.broken_files, 'file')} could not run"
    out.append(summary)
    return "\n".join(out)


def _suite(file: FileResult) -> ET.Element:
    failures = sum(1 for r in file.results if not r.passed)
    errors = 1 if file.errors else 0
    tests = len(file.results) + errors
    seconds = sum(r.seconds for r in file.results)
    suite = ET.Element("testsuite", name=file.path, tests=str(tests), failures=str(failures),
                       errors=str(errors), skipped="0", time=f"{seconds:.3f}")
    if file.errors:
        case = ET.SubElement(suite, "testcase", classname=file.path, name="(scenario file)",
                             time="0.000")
        text = "\n".join(str(error) for error in file.errors)
        element = ET.SubElement(case, "error", message=str(file.errors[0]), type="invalid")
        element.text = text
    for result in file.results:
        case = ET.SubElement(suite, "testcase", classname=file.path, name=result.scenario.name,
                             time=f"{result.seconds:.3f}")
        if not result.passed:
            element = ET.SubElement(case, "failure", message=result.problems[0],
                                    type="mismatch")
            element.text = _failure_text(result)
    return suite


def render_junit(run: TestRun) -> str:
    """Return the run as JUnit XML, one testsuite per scenario file."""
    suites = [_suite(file) for file in run.files]
    root = ET.Element("testsuites", name="billflow test",
                      tests=str(sum(int(s.get("tests", "0")) for s in suites)),
                      failures=str(sum(int(s.get("failures", "0")) for s in suites)),
                      errors=str(sum(int(s.get("errors", "0")) for s in suites) + len(run.problems)))
    root.extend(suites)
    if run.problems:
        suite = ET.SubElement(root, "testsuite", name="billflow test", tests="1", failures="0",
                              errors="1", skipped="0", time="0.000")
        case = ET.SubElement(suite, "testcase", classname="billflow test", name="(selection)",
                             time="0.000")
        element = ET.SubElement(case, "error", message=run.problems[0], type="empty")
        element.text = "\n".join(run.problems)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
