"""A soak's windows judged one by one add up to the whole run's reconcile: every fate, every record."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos import rundir
from chaos.oracle import reconcile
from chaos.oracle.synthetic import Fate, History, SyntheticProducer, write
from chaos.oracle.window import Bound, judge_window
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.ledger import PRODUCER_EVENT, Kind
from tests.unit.test_oracle import histories

FIELDS = ("sent", "in_log", "damaged", "failed", "unknown")
SUMMED = (*FIELDS, "duplicates", "lost_producer", "lost_broker")


def _whole(run: Path) -> dict[str, int]:
    v = reconcile(run)
    c, loss = v.counts.model_dump(), v.figures.model_dump()
    figures = {"lost_producer": loss["producer"], "lost_broker": loss["broker"]}
    return {**{f: c[f] for f in FIELDS}, **figures, "duplicates": v.anomalies["duplicates_in_log"]}


def _windows(history: History, cuts: list[int]) -> list[dict[str, Bound]]:
    """Windows cut at the same sequence numbers for every producer, the last one open-ended."""
    edges = [0, *sorted(set(cuts)), None]
    return [{p.id: Bound(lo, hi) for p in history.producers} for lo, hi in itertools.pairwise(edges) if lo is not None]


def _summed(run: Path, windows: list[dict[str, Bound]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for bounds in windows:
        judged = judge_window(run, bounds, [run / DRAIN / rundir.DRAIN_LOG]).as_dict()
        for k, n in judged.items():
            if k in SUMMED:
                total[k] = total.get(k, 0) + n
    return total


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.lists(st.integers(min_value=1, max_value=130), max_size=6))
def test_windows_add_up_to_the_whole_reconcile(history: History, cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write(history, run)
        assert _summed(run, _windows(history, cuts)) == _whole(run)


def test_a_window_reads_its_ledgers_from_where_it_began(tmp_path: Path) -> None:
    """Bounds that start past the rows of earlier windows judge the same as bounds that read all."""
    fates = [Fate.OK] * 40 + [Fate.BROKER_LOST] * 5 + [Fate.OK] * 40 + [Fate.UNKNOWN] * 3 + [Fate.PRODUCER_LOST] * 2
    history = History("r1", [SyntheticProducer("p0", "async", fates)])
    write(history, tmp_path)
    events = np.fromfile(tmp_path / LEDGERS / "producer-p0.events", dtype=PRODUCER_EVENT)
    acks = np.fromfile(tmp_path / LEDGERS / "producer-p0.acks", dtype=PRODUCER_EVENT)

    def first_row(rows: np.ndarray, seq: int) -> int:
        later = np.flatnonzero(rows["seq_end"] > seq)
        return int(later[0]) if len(later) else len(rows)

    assert (events["kind"] == Kind.INTENT).any()
    cut = 44
    read_all = [{"p0": Bound(0, cut)}, {"p0": Bound(cut, None)}]
    from_start = [
        {"p0": Bound(0, cut)},
        {"p0": Bound(cut, None, first_row(events, cut), first_row(acks, cut))},
    ]
    whole = _whole(tmp_path)
    assert _summed(tmp_path, read_all) == _summed(tmp_path, from_start) == whole
    assert whole["lost_broker"] == 5 and whole["unknown"] == 3 and whole["lost_producer"] == 2
    first = judge_window(tmp_path, read_all[0], [tmp_path / DRAIN / rundir.DRAIN_LOG])
    assert (first.sent, first.in_log, first.lost_broker) == (44, 40, 4)


def test_a_window_without_the_log_of_its_records_counts_them_lost(tmp_path: Path) -> None:
    """The judge believes the segments it is given: a window judged before the reader reached its
    records would call acknowledged records lost. That is why a window waits to be settled."""
    history = History("r1", [SyntheticProducer("p0", "async", [Fate.OK] * 20)])
    write(history, tmp_path)
    judged = judge_window(tmp_path, {"p0": Bound(0, None)}, [])
    assert (judged.sent, judged.in_log, judged.lost_broker) == (20, 0, 20)
