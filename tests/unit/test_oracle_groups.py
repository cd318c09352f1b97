"""The consumer stage's boundaries, on hand-made run directories: records above a group's committed
offset that it has not processed yet are not loss; each group is judged against its own committed
offsets; an incomplete drain is said so in the verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.oracle import reconcile
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import EPOCH, LOG_RECORD, PROCESSED, PRODUCER_EVENT, Kind, write_meta

TAG = producer_tag("p0")


def run_dir_with(
    tmp_path: Path,
    records: int,
    processed: dict[str, list[int]],
    committed: dict[str, int],
    complete: bool = True,
    epochs: dict[str, list[int]] | None = None,
) -> Path:
    """``records`` records of p0, all acked and in partition 0 at offset = seq; each group has one
    member that processed ``processed[group]`` (offsets) and committed ``committed[group]``."""
    run_dir = tmp_path / "run"
    ledgers = run_dir / LEDGERS
    ledgers.mkdir(parents=True)
    write_meta(run_dir / "run.json", {"run_id": "r1", "experiment": "groups"})
    write_meta(ledgers / "producer-p0.json", {"producer": "p0", "mode": "async", "start_ns": 0})
    events = [(Kind.INTENT, 0, records, -1, -1, 0, 0), (Kind.RETURNED, 0, records, -1, -1, 0, 0)]
    np.array(events, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.events")
    acks = [(Kind.ACK, s, s + 1, 0, s, 0, 0) for s in range(records)]
    np.array(acks, dtype=PRODUCER_EVENT).tofile(ledgers / "producer-p0.acks")
    for group, offsets in processed.items():
        member = f"{group}-c0"
        write_meta(ledgers / f"consumer-{member}.json", {"member": member, "group": group, "start_ns": 0})
        rows = [(0, o, TAG, o, Status.VALID, 0) for o in offsets]
        np.array(rows, dtype=PROCESSED).tofile(ledgers / f"consumer-{member}.processed")
        np.array([0, *(epochs or {}).get(group, [])], dtype=EPOCH).tofile(ledgers / f"consumer-{member}.epochs")
    (run_dir / DRAIN).mkdir()
    np.array([(0, s, TAG, s, Status.VALID) for s in range(records)], dtype=LOG_RECORD).tofile(
        run_dir / DRAIN / "log.bin"
    )
    write_meta(
        run_dir / DRAIN / "drain.json",
        {
            "complete": complete,
            "records": records,
            "beginning_offsets": {"0": 0},
            "end_offsets": {"0": records},
            "committed": {g: {"0": off} for g, off in committed.items()},
        },
    )
    return run_dir


def test_unprocessed_records_above_the_committed_offset_are_not_loss(tmp_path: Path) -> None:
    # processed 0..4, committed 7: offsets 5 and 6 were committed and never processed (loss);
    # 7..9 the group had not reached yet (not loss, not processed).
    v = reconcile(run_dir_with(tmp_path, 10, {"g1": [0, 1, 2, 3, 4]}, {"g1": 7}))
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 2}
    assert v.counts.processed == 5
    assert sorted(e["offset"] for e in v.examples["consumer"]) == [5, 6]


def test_each_group_is_judged_against_its_own_committed_offsets(tmp_path: Path) -> None:
    processed = {"g1": [0, 1, 2, 3, 4], "g2": list(range(10)), "g3": [], "g4": [0, 1, 1, 2]}
    committed = {"g1": 7, "g2": 10, "g3": 0, "g4": 5}
    v = reconcile(run_dir_with(tmp_path, 10, processed, committed))
    # g1 loses 5 and 6; g2 processed all; g3 committed nothing (it starts over, nothing lost);
    # g4 loses 3 and 4 and processed offset 1 twice.
    assert v.figures.consumer == 4
    assert sorted((e["group"], e["offset"]) for e in v.examples["consumer"]) == [
        ("g1", 5),
        ("g1", 6),
        ("g4", 3),
        ("g4", 4),
    ]
    assert v.anomalies["duplicates_processed"] == 1
    assert v.counts.processed == 10  # distinct records processed by any group
    assert sorted(v.details.groups) == ["g1", "g2", "g3", "g4"]


def test_a_group_that_processed_beyond_its_committed_offset_lost_nothing(tmp_path: Path) -> None:
    # commit-after-processing killed between processing and committing: processed ahead, no loss
    v = reconcile(run_dir_with(tmp_path, 10, {"g1": list(range(10))}, {"g1": 3}))
    assert v.figures.consumer == 0 and v.counts.processed == 10


def test_an_incomplete_drain_gives_no_loss_figure(tmp_path: Path) -> None:
    run_dir = run_dir_with(tmp_path, 10, {"g1": list(range(10))}, {"g1": 10}, complete=False)
    (run_dir / "expectations.json").write_text('{"broker_loss": 0, "sent": 10}')
    v = reconcile(run_dir)
    assert v.details.drain_complete is False and not v.conclusive and not v.passed
    data = v.model_dump(mode="json")
    assert data["loss"] == {"producer": None, "broker": None, "consumer": None}
    assert data["details"]["provisional_loss"] == {"producer": 0, "broker": 0, "consumer": 0}
    assert [(e["name"], e["passed"], e["actual"]) for e in data["expectations"]] == [
        ("broker_loss == 0", False, None),
        ("sent == 10", True, 10),
    ]
    assert "the drain did not complete" in data["trust"]["reasons"][0]
    v = reconcile(run_dir_with(tmp_path / "b", 10, {"g1": list(range(10))}, {"g1": 10}))
    assert v.details.drain_complete is True and v.conclusive and v.passed


def test_a_member_that_jumps_over_records_within_one_assignment_skipped_them(tmp_path: Path) -> None:
    offsets = [*range(10), *range(15, 20)]
    v = reconcile(run_dir_with(tmp_path / "a", 20, {"g1": offsets}, {"g1": 20}))
    assert (v.anomalies["poll_skips"], v.anomalies["nonmonotonic_polls"]) == (1, 0)
    assert v.examples["poll_skips"] == [
        {"group": "g1", "member": "g1-c0", "partition": 0, "offset": 9, "next_offset": 15}
    ]
    assert v.figures.consumer == 5  # committed 20, never processed 10..14
    # the same jump across a new assignment (a rebalance, a restart) is not a skip
    v = reconcile(run_dir_with(tmp_path / "b", 20, {"g1": offsets}, {"g1": 20}, epochs={"g1": [10]}))
    assert (v.anomalies["poll_skips"], v.anomalies["nonmonotonic_polls"]) == (0, 0)


def test_a_member_that_goes_back_within_one_assignment_is_nonmonotonic(tmp_path: Path) -> None:
    offsets = [*range(10), *range(5, 10)]
    v = reconcile(run_dir_with(tmp_path / "a", 10, {"g1": offsets}, {"g1": 10}))
    assert (v.anomalies["poll_skips"], v.anomalies["nonmonotonic_polls"]) == (0, 1)
    assert v.anomalies["duplicates_processed"] == 5
    v = reconcile(run_dir_with(tmp_path / "b", 10, {"g1": offsets}, {"g1": 10}, epochs={"g1": [10]}))
    assert (v.anomalies["poll_skips"], v.anomalies["nonmonotonic_polls"]) == (0, 0)
    assert v.anomalies["duplicates_processed"] == 5
