"""Rebalances per consumer group, on hand-built member ledgers with known truth: how many assignment
changes, how long each member processed nothing across one, and how many records it processed again
after one (docs/verdict.md, ``rebalances``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chaos.oracle import reconcile
from chaos.oracle.rebalances import Rebalances, Spread, group_rebalances
from chaos.oracle.reconcile import reconcile_and_write
from chaos.reports import write_run_reports
from chaos.rundir import LEDGERS
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import EPOCH, PROCESSED, Kind, write_meta
from tests.helpers.handmade import TAG, one_partition_run, write_member

#: A row of a member's ledger: (partition, offset, t_ms), or (partition, offset, t_ms, status).
Row = tuple[int, ...]


def member(
    run_dir: Path, name: str, rows: Sequence[Row], epochs: Sequence[int] | None = (0,), start_ms: int = 0
) -> tuple[Path, int]:
    """A member's ``.processed`` (valid records of p0 unless a row says its status) and ``.epochs``
    (``None``: no file); returns its source as :attr:`Group.sources` holds it."""
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True, exist_ok=True)
    write_meta(ledgers / f"consumer-{name}.json", {"member": name, "group": "g", "start_ns": start_ms * 1_000_000})
    processed = [(r[0], r[1], TAG, r[1], r[3] if len(r) > 3 else Status.VALID, r[2]) for r in rows]
    path = ledgers / f"consumer-{name}.processed"
    np.array(processed, dtype=PROCESSED).tofile(path)
    if epochs is not None:
        np.array(epochs, dtype=EPOCH).tofile(path.with_suffix(".epochs"))
    return path, start_ms


def test_a_restart_pauses_its_member_for_the_gap_and_reprocesses_what_it_read_after_its_commit(
    tmp_path: Path,
) -> None:
    """Epoch 0 reads offsets 0-4 and 4 again (a step back within the epoch, not after a change); the
    restart at row 6 reads 2, 3, 4 again 500 ms after the last row before it, then 5 and 6 new. A
    boundary one row early would count the repeated 4 of row 5 (4); one row late, 2; a pause taken
    one row off, 10 or 1 ms."""
    epoch0 = [(0, o, 100 + 10 * i) for i, o in enumerate([0, 1, 2, 3, 4, 4])]
    epoch1 = [(0, o, 650 + i) for i, o in enumerate([2, 3, 4, 5, 6])]
    source = member(tmp_path, "c0", epoch0 + epoch1, epochs=[0, 6])
    assert group_rebalances("g", [source]) == Rebalances(
        group="g",
        changes=1,
        pause_ms=Spread(median=500.0, max=500),
        reprocessed=3,
        reprocessed_per_change=Spread(median=3.0, max=3),
    )


def test_a_member_that_takes_over_a_partition_reprocesses_only_what_the_group_had_processed_before(
    tmp_path: Path,
) -> None:
    """A processes partition 0's offsets 0-5 and stops. B, started 1 s after A (its ``t_ms`` count
    from then), reads partition 1 and is then given partition 0: it reads 3-5 again (A had processed
    them, earlier by absolute time though B's ``t_ms`` are smaller) and 6-8, which nobody had. Read
    by ``t_ms`` alone B would come first and nothing would be reprocessed."""
    a = member(tmp_path, "a", [(0, o, 100 + 10 * o) for o in range(6)], start_ms=0)
    b_rows = [(1, 0, 0), (1, 1, 10), (1, 2, 20), *((0, o, 50 + o) for o in range(3, 9))]
    b = member(tmp_path, "b", b_rows, epochs=[0, 3], start_ms=1000)
    found = group_rebalances("g", [a, b])
    assert found.changes == 1
    assert found.pause_ms == Spread(median=33.0, max=33)  # 50 + 3 - 20: B's own rows either side
    assert found.reprocessed == 3


def test_time_orders_the_members_ties_go_by_ledger_and_a_repeat_within_an_epoch_counts(tmp_path: Path) -> None:
    """Time decides which member processed a position first, whatever the ledgers' order; in one
    millisecond the member whose ledger comes first in the group did; a position a change's epoch
    reads twice counts after its first."""
    a = member(tmp_path, "a", [(0, 0, 5), (0, 1, 5), (0, 2, 7), (0, 9, 8)], epochs=[0, 2])
    b = member(tmp_path, "b", [(0, 9, 2), (0, 0, 5), (0, 3, 6), (0, 3, 6)], epochs=[0, 1])
    found = group_rebalances("g", [a, b])
    assert found.changes == 2
    # a's change: offset 2 new, offset 9 b's at 2 ms. b's: offset 0 (a's in the same ms), 3 again.
    assert found.reprocessed_per_change == Spread(median=1.5, max=2)
    assert found.reprocessed == 3


def test_the_first_processing_is_found_whichever_ledger_holds_it(tmp_path: Path) -> None:
    """b, whose ledger comes second, processed (0, 5) first, after its own change: not reprocessed,
    and a's later copy is. Then a tie at the same row of both ledgers, in the same millisecond: a's
    ledger comes first, so b's copy is the one reprocessed."""
    a = member(tmp_path / "one", "a", [(0, 0, 1), (0, 5, 50)], epochs=[0, 1])
    b = member(tmp_path / "one", "b", [(1, 0, 1), (1, 1, 2), (0, 5, 20)], epochs=[0, 2])
    found = group_rebalances("g", [a, b])
    assert (found.reprocessed, found.reprocessed_per_change) == (1, Spread(median=0.5, max=1))
    a = member(tmp_path / "two", "a", [(1, 0, 1), (0, 7, 60)], epochs=[0, 1])
    b = member(tmp_path / "two", "b", [(1, 1, 1), (0, 7, 60)], epochs=[0, 1])
    found = group_rebalances("g", [a, b])
    assert (found.reprocessed, found.reprocessed_per_change) == (1, Spread(median=0.5, max=1))


def test_a_member_without_epoch_marks_has_no_change(tmp_path: Path) -> None:
    source = member(tmp_path, "c0", [(0, 0, 1), (0, 1, 2), (0, 0, 3)], epochs=None)
    assert group_rebalances("g", [source]) == Rebalances(
        group="g", changes=0, pause_ms=None, reprocessed=0, reprocessed_per_change=None
    )


def test_marks_at_or_beyond_the_rows_are_one_change_never_resumed_and_repeated_marks_one_change(
    tmp_path: Path,
) -> None:
    """A restart killed before it processed anything leaves a mark at the row count (4), and one
    past it (9) is the same place: one change after which the member processed nothing, outside
    the spreads. Repeated marks (2, 2) are one boundary."""
    rows = [(0, 0, 10), (0, 1, 20), (0, 1, 90), (0, 2, 95)]
    source = member(tmp_path, "c0", rows, epochs=[0, 2, 2, 4, 9])
    found = group_rebalances("g", [source])
    assert (found.changes, found.never_resumed) == (2, 1)
    assert (found.pause_ms, found.reprocessed, found.reprocessed_per_change) == (
        Spread(median=70.0, max=70),
        1,
        Spread(median=1.0, max=1),
    )


def test_only_valid_rows_count_and_a_mark_on_another_moves_to_the_next_valid_row(tmp_path: Path) -> None:
    """The marks at rows 2 and 3 are on values that are not valid: one change, from row 4, 300 ms
    after row 1; the corrupted row's position read again there is not a record reprocessed. The mark
    on the last row, not valid either, points past every valid row: a change never resumed."""
    bad, foreign = Status.CORRUPTED, Status.FOREIGN
    rows = [(0, 0, 10), (0, 1, 20), (0, 2, 25, bad), (0, 5, 26, foreign), (0, 2, 320), (0, 1, 321), (0, 7, 400, bad)]
    found = group_rebalances("g", [member(tmp_path, "c0", rows, epochs=[0, 2, 3, 6])])
    assert (found.changes, found.never_resumed) == (2, 1)
    assert (found.pause_ms, found.reprocessed) == (Spread(median=300.0, max=300), 1)


def two_member_run(tmp_path: Path) -> Path:
    """p0 wrote offsets 0-7; member a read 0-3, was killed, and read 2-5 after its restart 770 ms
    later; member b (started 1 s after a) read 4-7, then 7 again after a rebalance 470 ms later."""
    run = one_partition_run(
        tmp_path / "run",
        "async",
        [(Kind.INTENT, 0, 8, -1, -1), (Kind.RETURNED, 0, 8, -1, -1)],
        [(Kind.ACK, s, s + 1, 0, s) for s in range(8)],
        [(s, s, Status.VALID) for s in range(8)],
    )
    a_rows = [(o, o, 100 + 10 * o) for o in range(4)] + [(o, o, 898 + o) for o in range(2, 6)]
    write_member(run, "a", "g", a_rows, 8, epochs=[4])
    write_member(run, "b", "g", [(o, o, 10 * (o - 4)) for o in range(4, 8)] + [(7, 7, 500)], 8, [4], start_ns=10**9)
    return run


def test_the_verdict_reports_each_group_s_rebalances_and_expectations_can_name_them(tmp_path: Path) -> None:
    run = two_member_run(tmp_path)
    (run / "expectations.json").write_text(
        json.dumps({"assignment_changes": 2, "change_pause_ms_max": 770, "reprocessed_per_change_max": 2})
    )
    expected = Rebalances(
        group="g",
        changes=2,
        pause_ms=Spread(median=620.0, max=770),  # a: 900 - 130; b: 1500 - 1030
        reprocessed=3,  # a: offsets 2 and 3; b: offset 7
        reprocessed_per_change=Spread(median=1.5, max=2),
    )
    assert reconcile(run).rebalances == [expected]
    verdict = reconcile_and_write(run)
    assert [(e.name, e.actual, e.passed) for e in verdict.expectations] == [
        ("assignment_changes == 2", 2, True),
        ("change_pause_ms_max == 770", 770, True),
        ("reprocessed_per_change_max == 2", 2, True),
    ]
    written = json.loads((run / "verdict.json").read_text())
    assert written["rebalances"] == [expected.model_dump(mode="json")]


def test_every_run_report_says_each_group_s_rebalances_in_one_line(tmp_path: Path) -> None:
    run = two_member_run(tmp_path)
    reconcile_and_write(run)
    assert write_run_reports(run) == []
    line = (
        "group g: 2 assignment changes, processing paused median 620 ms, max 770 ms; "
        "3 positions processed again (median 1.5, max 2 per change)"
    )
    assert f"- {line}\n" in (run / "summary.md").read_text()
    assert line in (run / "report.html").read_text()
    assert line in (run / "junit.xml").read_text()
