"""Which events a plan replays, over which days, and how a long comment is cut."""

from __future__ import annotations

from pathlib import Path

from engine.plan import COLLECTION_TAIL_DAYS, HISTORY_FILE


def test_the_history_defaults_to_the_events_file_beside_the_rules(workspace: Path, plan) -> None:
    assert HISTORY_FILE == "events.ndjson" and COLLECTION_TAIL_DAYS == 90
    (workspace / "head" / HISTORY_FILE).unlink()
    done = plan("head", "--base", "base")
    assert done.code == 1
    assert done.stderr == (f"billflow: no event history to replay: {Path('head/events.ndjson')} "
                           "does not exist; give one with --events FILE\n")
    given = plan("head", "--base", "base", "--events", "base/events.ndjson",
                 "--until", "2026-03-31")
    assert given.code == 0, given.stderr
    assert "  events  base/events.ndjson: 5,996 events, replayed through 2026-03-31" in given.stdout


def test_from_and_until_bound_the_replay(workspace: Path, plan, edit) -> None:
    edit(workspace / "head/clients/pinecrest-labs.yaml", '          designer: "165.00"',
         '          designer: "170.00"')
    # Before the July revision the new rate bills nothing.
    early = plan("head", "--base", "base", "--from", "2026-01-01", "--until", "2026-06-30")
    assert early.code == 0, early.stderr
    late = plan("head", "--base", "base", "--from", "2026-01-01", "--until", "2026-07-31")
    assert late.code == 2
    assert "replayed through 2026-07-31" in late.stdout
    bad = plan("head", "--base", "base", "--until", "2026-13-01")
    assert bad.code == 1 and bad.stderr == "billflow: --until '2026-13-01' is not a date (YYYY-MM-DD)\n"


def test_a_markdown_plan_over_the_limit_is_cut_and_written_in_full(workspace: Path, plan,
                                                                   edit) -> None:
    edit(workspace / "head/routes.yaml", "invoice.total >= 25000\"", "invoice.total >= 24000\"")
    done = plan("head", "--base", "base", "--format", "markdown", "--max-chars", "4000",
                "--out", "comment.md")
    assert done.code == 2
    assert done.stdout == ""
    comment = (workspace / "comment.md").read_text(encoding="utf-8")
    full = (workspace / "comment.full.md").read_text(encoding="utf-8")
    assert len(comment) <= 4000 < len(full)
    assert "left out here.** The full plan is in `comment.full.md`." in comment
    assert comment.count("<details>") == comment.count("</details>")
    assert done.stderr.endswith("the full plan is in comment.full.md\n")
    head = comment.split("<details>")[0]
    assert full.startswith(head)
