"""Rebalances on ledgers a real writer leaves in the corners: a change inside one processed batch,
a kill between a batch's mark and its rows, a change the member never resumed after, a wall clock
stepped back across a restart, a meta whose ``start_ns`` is absurd (docs/verdict.md, ``rebalances``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from chaos.errors import UsageError
from chaos.oracle import reconcile
from chaos.oracle.expectations import parse_expectation
from chaos.oracle.rebalances import Rebalances, Spread, group_rebalances
from chaos.oracle.reconcile import reconcile_and_write
from chaos.rundir import LEDGERS
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import read_meta, write_meta
from tests.helpers.handmade import write_member
from tests.unit.test_rebalances import Row, member, two_member_run


@pytest.mark.parametrize("start_ns", [10**28, 1.5e300, -(10**17), 2**63, "0", 10.0**9])
def test_a_member_whose_start_is_not_a_time_is_left_out_and_the_run_reconciles(
    tmp_path: Path, start_ns: object
) -> None:
    """start_ns must be an int in [0, 2**63): c's change (which would add a third) is left out."""
    run = two_member_run(tmp_path)
    write_member(run, "c", "g", [(o, o, 10 * o) for o in range(4)], 8, [2])
    meta = run / LEDGERS / "consumer-c.json"
    write_meta(meta, {**read_meta(meta), "start_ns": start_ns})
    (group,) = reconcile(run).rebalances
    assert (group.changes, group.reprocessed) == (2, 3)


def test_a_wall_clock_stepped_back_across_a_restart_keeps_file_order_within_the_member(tmp_path: Path) -> None:
    """Process 1 processed offsets 0-4 at 1-5 ms; the restart, its wall clock behind, at 0 ms
    (``Clock.ms`` clamps), offsets 2-5. Within a member, file order is the truth: offsets 2-4 are
    processed again, and the pause is not negative."""
    rows = [(0, o, o + 1) for o in range(5)] + [(0, o, 0) for o in range(2, 6)]
    found = group_rebalances("g", [member(tmp_path, "c0", rows, epochs=[0, 5])])
    assert found.reprocessed == 3
    assert found.pause_ms is not None and found.pause_ms.max >= 0
    with pytest.raises(ValidationError):
        Spread(median=-5.0, max=-5)


def test_a_change_inside_a_batch_pauses_from_the_member_s_last_processing_before_that_batch(tmp_path: Path) -> None:
    """The rows of one ``processed_many`` share a ``t_ms``: rows 0-3 at 100 ms, then one batch at
    5000 ms whose mark is at its third row. The member processed nothing from 100 to 5000 ms, not 0.
    When every row above the mark shares the ``t_ms`` of the first row after it, the pause is 0."""
    rows = [(0, o, 100) for o in range(4)] + [(0, o, 5000) for o in range(4, 8)]
    found = group_rebalances("g", [member(tmp_path / "one", "c0", rows, epochs=[0, 6])])
    assert found.pause_ms == Spread(median=4900.0, max=4900)
    rows = [(0, 0, 100), (0, 1, 200), *((0, o, 5000) for o in range(2, 5))]
    found = group_rebalances("g", [member(tmp_path / "two", "c0", rows, epochs=[0, 3])])
    assert found.pause_ms == Spread(median=4800.0, max=4800)
    rows = [(0, o, 100) for o in range(4)]
    found = group_rebalances("g", [member(tmp_path / "three", "c0", rows, epochs=[0, 2])])
    assert found.pause_ms == Spread(median=0.0, max=0)


def test_a_mark_left_by_a_kill_before_its_batch_s_rows_is_dropped(tmp_path: Path) -> None:
    """Process 1 wrote rows 0-3 (offsets 0-3) at 100 ms and the mark of its next batch (row 6), and
    was killed before the rows; the restart marked its own start (row 4) and read offsets 2-7 at
    3000 ms. ``.epochs`` [0, 6, 4]: one restart, not two changes."""
    rows = [(0, o, 100) for o in range(4)] + [(0, o, 3000) for o in range(2, 8)]
    found = group_rebalances("g", [member(tmp_path, "c0", rows, epochs=[0, 6, 4])])
    assert found == Rebalances(
        group="g",
        changes=1,
        pause_ms=Spread(median=2900.0, max=2900),
        reprocessed=2,
        reprocessed_per_change=Spread(median=2.0, max=2),
    )


def test_one_rebalance_of_three_members_is_three_assignment_changes_and_is_said_so(tmp_path: Path) -> None:
    """A change is one member's: one new generation seen by three members is three changes, and
    neither the report line nor the expectation metric calls them rebalances any more."""

    def rows(k: int) -> Sequence[Row]:  # each keeps its partition k across the rebalance
        return [(k, o, 10 * o) for o in range(3)] + [(k, o, 1000 + o) for o in range(3, 5)]

    found = group_rebalances("g", [member(tmp_path, f"c{k}", rows(k), epochs=[0, 3]) for k in range(3)])
    assert found.sentence() == (
        "group g: 3 assignment changes, processing paused median 983 ms, max 983 ms; "
        "0 positions processed again (median 0, max 0 per change)"
    )
    assert parse_expectation("assignment_changes", 3).name == "assignment_changes == 3"
    with pytest.raises(UsageError, match="unknown expectation 'rebalances'"):
        parse_expectation("rebalances", ">0")


def test_a_change_the_member_never_resumed_after_counts_and_says_so(tmp_path: Path) -> None:
    """c0 restarted after its 4 rows and processed nothing since (marks 4 and 9 are one place: past
    its last valid row); c1 changed once and went on. Two changes, one never resumed; the spreads
    are over the one that resumed."""
    stalled = member(tmp_path, "c0", [(0, o, 10 * o) for o in range(4)], epochs=[0, 4, 9])
    found = group_rebalances("g", [stalled])
    assert found == Rebalances(
        group="g", changes=1, never_resumed=1, pause_ms=None, reprocessed=0, reprocessed_per_change=None
    )
    assert found.sentence() == "group g: 1 assignment change (1 never resumed)"
    going = member(tmp_path, "c1", [(1, 0, 10), (1, 1, 20), (1, 1, 80)], epochs=[0, 2])
    found = group_rebalances("g", [stalled, going])
    assert (found.changes, found.never_resumed, found.pause_ms) == (2, 1, Spread(median=60.0, max=60))
    assert found.sentence().startswith("group g: 2 assignment changes (1 never resumed), processing paused")


def test_the_verdict_counts_a_change_never_resumed_and_an_expectation_can_name_it(tmp_path: Path) -> None:
    """c, beside a and b's two changes, restarted after its three rows and processed nothing since:
    its pause is no figure, so only the count of changes never resumed can catch it."""
    run = two_member_run(tmp_path)
    write_member(run, "c", "g", [(o, o, 10 * o) for o in range(3)], 8, [3])
    (run / "expectations.json").write_text(
        '{"assignment_changes": 3, "changes_never_resumed": 1, "change_pause_ms_max": 770}'
    )
    verdict = reconcile_and_write(run)
    assert [(e.name, e.actual, e.passed) for e in verdict.expectations] == [
        ("assignment_changes == 3", 3, True),
        ("changes_never_resumed == 1", 1, True),
        ("change_pause_ms_max == 770", 770, True),
    ]


def test_a_rewind_after_an_aborted_transaction_is_a_change_and_the_docs_say_so(tmp_path: Path) -> None:
    """An exactly-once member whose transaction aborted reads again from its committed offsets and
    marks a new epoch (chaos.workloads.transform; the Java client's ``marks.add(0, 0)``) without a
    restart or a rebalance, as does kafka-python's client restarted in its process: a change, which
    the definition of ``changes`` must name."""
    source = member(tmp_path, "c0", [(0, 0, 5), (0, 1, 5), (0, 2, 30), (0, 3, 30)], epochs=[0, 2])
    found = group_rebalances("g", [source])
    assert (found.changes, found.pause_ms, found.reprocessed) == (1, Spread(median=25.0, max=25), 0)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "verdict.md").read_text()
    (changes,) = (line for line in docs.splitlines() if line.startswith("| `changes` |"))
    assert "rewind after an aborted transaction" in changes
    assert "client was restarted in its process" in changes


def test_which_marks_count_is_what_the_docs_say(tmp_path: Path) -> None:
    """Row 0 is not valid, rows 1-3 are, row 4 is not. The mark at row 1 (the first valid row) begins
    the first epoch: none. The mark on the last valid row (3) is a change the member resumed after;
    the one at row 4, past it, a change never resumed."""
    bad = Status.CORRUPTED
    rows = [(0, 0, 1, bad), (0, 0, 10), (0, 1, 20), (0, 2, 900), (0, 3, 950, bad)]
    found = group_rebalances("g", [member(tmp_path, "c0", rows, epochs=[0, 1, 3, 4])])
    assert (found.changes, found.never_resumed, found.pause_ms) == (2, 1, Spread(median=880.0, max=880))
    docs = (Path(__file__).resolve().parents[2] / "docs" / "verdict.md").read_text()
    (changes,) = (line for line in docs.splitlines() if line.startswith("| `changes` |"))
    assert "A mark at or before the member's first valid row counts none" in changes
    assert "one past its last valid row counts, as a change never resumed" in changes
    assert "at or past the member's last valid row" not in docs
