"""A soak's judge: windows marked as the ledgers grow, judged once settled from the tail reader's
segments, add up to the whole run's reconcile; a window is never judged before it settled, the
segments no window needs are removed, and a reader that never catches up leaves windows unjudged."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from chaos import rundir
from chaos.experiments.soak_judge import SoakJudge
from chaos.experiments.soak_judging import NEVER_SETTLES, SoakJudging, settle_s, unjudgeable
from chaos.oracle import reconcile, reconcile_and_write
from chaos.oracle.synthetic import Fate, History, SyntheticProducer, write
from chaos.oracle.window import Bound, WindowFates, judge_window
from chaos.oracle.windows_verdict import not_from_windows
from chaos.reports.soak_judged import read_judged
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import LOG_RECORD, PRODUCER_EVENT, Kind
from chaos.workloads.spec import ProducerSpec
from chaos.workloads.tail import segment_path

FATES = [Fate.OK] * 30 + [Fate.BROKER_LOST] * 4 + [Fate.OK] * 10 + [Fate.DAMAGED, Fate.UNKNOWN, Fate.PRODUCER_LOST]
FATES += [Fate.OK] * 20 + [Fate.SWALLOWED, Fate.DUPLICATE_IN_LOG, Fate.UNCONFIRMED] + [Fate.OK] * 15


class FakeTail:
    """Segments the test fills itself; caught up when the test says so."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.segment = 1
        self.caught_up_at = 0.0
        self.problem: str | None = None

    def rotate(self) -> int:
        self.segment += 1
        return self.segment


class Soak:
    """A run whose ledgers grow window by window, from a synthetic history written whole."""

    def __init__(self, tmp: Path, fates: list[Fate], mode: str = "fire_and_forget") -> None:
        self.whole, self.run = tmp / "whole", tmp / "run"
        write(History("r1", [SyntheticProducer("p0", mode, fates)], corrupted=2), self.whole)
        shutil.copytree(self.whole, self.run)
        events = np.fromfile(self.whole / LEDGERS / "producer-p0.events", dtype=PRODUCER_EVENT)
        per_seq = np.zeros(len(fates), dtype=PRODUCER_EVENT)
        per_seq["kind"], per_seq["seq"] = Kind.INTENT, np.arange(len(fates))
        per_seq["seq_end"] = per_seq["seq"] + 1
        rows = np.concatenate([per_seq, events[events["kind"] != Kind.INTENT]])
        self.events = rows[np.lexsort((rows["kind"], rows["seq"]))]  # each intent before its returned
        self.acks = np.fromfile(self.whole / LEDGERS / "producer-p0.acks", dtype=PRODUCER_EVENT)
        self.log = np.fromfile(self.whole / DRAIN / rundir.DRAIN_LOG, dtype=LOG_RECORD)
        self.grow(0)
        self.tail = FakeTail(self.run / DRAIN / rundir.TAIL)
        self.tail.directory.mkdir(parents=True)

    def grow(self, upto: int) -> None:
        """The ledgers as they stand once records below ``upto`` were intended and decided."""
        led = self.run / LEDGERS
        self.events[self.events["seq"] < upto].tofile(led / "producer-p0.events")
        self.acks[self.acks["seq"] < upto].tofile(led / "producer-p0.acks")

    def read(self, segment: int, lo: int, hi: int) -> None:
        """The tail reader reads the records of ``[lo, hi)`` into ``segment`` (and the damaged values)."""
        mine = (self.log["tag"] == producer_tag("p0")) & (self.log["seq"] >= lo) & (self.log["seq"] < hi)
        rows = self.log[mine | (self.log["status"] != Status.VALID)]
        with segment_path(self.tail.directory, segment).open("ab") as f:
            f.write(rows.tobytes())


def _judge(soak: Soak, settle: float = 10.0) -> SoakJudge:
    judge = partial(judge_window, soak.run)
    out = soak.run / rundir.SOAK / rundir.SOAK_JUDGED
    # judged by the test itself, on a clock of its own
    return SoakJudge(soak.run / LEDGERS, soak.tail, judge, settle, out, clock=lambda: 1000.0, every=3600)


def _whole(run: Path) -> dict[str, int]:
    v = reconcile(run)
    c, f = v.counts, v.figures
    return {
        "sent": c.sent,
        "in_log": c.in_log,
        "damaged": c.damaged,
        "failed": c.failed,
        "unknown": c.unknown,
        "lost_producer": f.producer,
        "lost_broker": f.broker,
    }


def test_windows_judged_as_they_settle_add_up_to_the_whole(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak)
    judge.start()
    cuts = [25, 50, 70, len(FATES)]
    for k, cut in enumerate(cuts, start=1):
        soak.grow(cut)
        soak.read(soak.tail.segment, cuts[k - 2] if k > 1 else 0, cut)
        judge.mark(k, end=100.0 * k)
    soak.tail.caught_up_at = 10_000.0
    assert not judge._settled()  # nobody has looked whether its sends returned
    judge._note_returned()  # they have (at the test's clock, 1000)
    soak.tail.caught_up_at = 1005.0  # window 1 returned at 1000: not settled before 1010
    assert not judge._settled()
    soak.tail.caught_up_at = 1010.0  # all four settled: they returned at 1000, after their ends
    assert judge._settled()
    judge._judge_next()
    assert judge.judged == 1 and judge._settled()
    # segment 1 is still needed by window 2 (a record intended just before a rotation)
    assert segment_path(soak.tail.directory, 1).exists()
    soak.tail.caught_up_at = 10_000.0
    judge.finish(timeout=1)
    by_window, judged = read_judged(soak.run)
    assert judged is not None and judged["windows"] == 4 and judged["unjudged"] is None
    whole = _whole(soak.run)
    assert {k: v for k, v in judged["totals"].items() if k in whole} == whole
    reconcile_and_write(soak.run)
    assert read_judged(soak.run)[1] == {**judged, "equals_whole": True}
    assert whole["lost_broker"] == 5 and whole["unknown"] == 1 and whole["damaged"] == 1
    assert by_window[2]["lost_broker"] == 4  # the four lost in a row, sent in the second window
    assert by_window[1]["sent"] == 25
    # only the segment being written and the one before it are left (the run's close removes them),
    # nor the window's scratch log
    left = {p.name for p in soak.tail.directory.glob("segment-*.bin")}
    assert left <= {segment_path(soak.tail.directory, n).name for n in (soak.tail.segment - 1, soak.tail.segment)}
    assert not (soak.run / DRAIN / rundir.TAIL / "judging.bin").exists()


def test_records_sent_after_the_last_window_are_the_last_windows(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak)
    judge.start()
    soak.grow(40)
    soak.read(1, 0, 40)
    judge.mark(1, end=100.0)
    soak.grow(len(FATES))  # the settle phase: sent after the watch's last window
    soak.read(2, 40, len(FATES))
    soak.tail.caught_up_at = 10_000.0
    judge.finish(timeout=1)
    by_window, judged = read_judged(soak.run)
    assert judged is not None and sorted(by_window) == [1]
    assert by_window[1]["sent"] == len(FATES)
    assert {k: v for k, v in judged["totals"].items() if k in (w := _whole(soak.run))} == w


def test_a_window_judged_before_the_reader_reached_it_would_lose_records(tmp_path: Path) -> None:
    """What settling guards against: the same window judged from segments that miss its records
    counts acknowledged records as broker loss, a false loss the equality check then names."""
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak)
    judge.start()
    soak.grow(len(FATES))
    judge.mark(1, end=100.0)
    soak.tail.caught_up_at = 10_000.0  # a lie: nothing was read
    judge.finish(timeout=1)
    reconcile_and_write(soak.run)
    _, judged = read_judged(soak.run)
    assert judged is not None and judged["equals_whole"] is False
    assert judged["differs"]["lost_broker"][0] > judged["differs"]["lost_broker"][1]


def test_a_reader_that_never_catches_up_leaves_windows_unjudged(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak)
    judge.start()
    soak.grow(len(FATES))
    judge.mark(1, end=100.0)
    soak.tail.problem = "the log was cut below what the tail reader had read"
    judge.finish(timeout=0.5)
    _, judged = read_judged(soak.run)
    assert judged is not None and judged["windows"] == 0
    assert judged["unjudged"] == "the log was cut below what the tail reader had read"
    assert judged["equals_whole"] is None


def test_runs_whose_records_are_decided_later_are_not_judged_in_windows() -> None:
    async_spec = ProducerSpec(id="p", topic="t", bootstrap_servers="b", run_dir="r", run_id="x")
    outbox = ProducerSpec(id="p", topic="t", bootstrap_servers="b", run_dir="r", run_id="x", mode="outbox")
    assert unjudgeable([async_spec], application=False, compacted=False) is None
    assert "outbox" in str(unjudgeable([async_spec, outbox], application=False, compacted=False))
    assert "compacted" in str(unjudgeable([async_spec], application=False, compacted=True))
    assert "application" in str(unjudgeable([], application=True, compacted=False))


@pytest.mark.parametrize(
    ("client", "settings", "settle"),
    [
        ("kafka-python", {}, 120 + 30 + 30 + 5),
        ("librdkafka", {}, 300 + 30 + 30 + 5),
        ("java", {"delivery.timeout.ms": "20000"}, 30 + 30 + 30 + 5),  # raised to linger + request timeout
        ("java", {"delivery.timeout.ms": "20000", "request.timeout.ms": "10000"}, 20 + 30 + 30 + 5),
        ("java", {"request.timeout.ms": "300000", "linger.ms": "5000"}, 305 + 30 + 30 + 5),
        ("librdkafka", {"message.timeout.ms": "45000"}, 45 + 30 + 30 + 5),
        ("librdkafka", {"delivery.timeout.ms": "0"}, None),  # librdkafka's "never time out"
    ],
)
def test_a_window_settles_after_the_delivery_timeout_a_period_and_the_replicas_lag(
    client: str, settings: dict[str, str], settle: float | None
) -> None:
    spec = ProducerSpec(id="p", topic="t", bootstrap_servers="b", run_dir="r", run_id="x", client=client)
    spec = dataclasses.replace(spec, settings=settings)
    assert settle_s([spec], every=30.0) == settle


def test_a_soak_whose_producer_never_gives_up_is_not_judged_in_windows(tmp_path: Path) -> None:
    judging = SoakJudging("b", "t", "x", tmp_path, None, None)
    judging.start()
    judging.close()
    line = json.loads((tmp_path / rundir.SOAK / rundir.SOAK_JUDGED).read_text())
    assert line == {"window": None, "unjudged": NEVER_SETTLES}


def test_judged_lines_torn_or_split_are_read_whole(tmp_path: Path) -> None:
    out = tmp_path / rundir.SOAK / rundir.SOAK_JUDGED
    out.parent.mkdir(parents=True)
    line = {"window": 3, "sent": 5, "in_log": 4, "lost_broker": 1, "unsure": None}
    out.write_text(json.dumps(line) + "\n" + json.dumps({**line, "sent": 2, "in_log": 2, "lost_broker": 0}) + '\n{"wi')
    by_window, judged = read_judged(tmp_path)
    assert by_window[3]["sent"] == 7 and by_window[3]["lost_broker"] == 1
    assert judged is not None and judged["equals_whole"] is None  # no verdict to hold it against


def test_the_segments_being_read_survive_a_window_judged_with_nothing_pending(tmp_path: Path) -> None:
    """The last window judged while the workloads still run leaves nothing pending: the segment being
    written, and the one before it, must survive for what is judged at the end."""
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak, settle=0.0)
    judge.start()
    soak.grow(40)
    soak.read(1, 0, 40)
    judge.mark(1, end=100.0)
    judge._note_returned()
    soak.tail.caught_up_at = 10_000.0
    judge._judge_next()
    soak.grow(len(FATES))
    soak.read(soak.tail.segment, 40, len(FATES))  # read after the last window, before the end
    judge.finish(timeout=1)
    _, judged = read_judged(soak.run)
    assert judged is not None
    assert {k: v for k, v in judged["totals"].items() if k in (w := _whole(soak.run))} == w


def test_a_window_whose_sends_have_not_returned_does_not_settle(tmp_path: Path) -> None:
    """A streaming producer intends a range at once and may send its last record long after the
    window ended: the window waits for the sends to return, then for the settle time."""
    soak = Soak(tmp_path, [Fate.OK] * 30)
    judge = _judge(soak, settle=10.0)
    judge.start()
    returned = soak.events["kind"] == Kind.RETURNED
    held = soak.events[~returned | (soak.events["seq"] < 20)]  # records 20..29 intended, not yet sent
    held.tofile(soak.run / LEDGERS / "producer-p0.events")
    judge.mark(1, end=100.0)
    judge._note_returned()
    soak.tail.caught_up_at = 10_000.0
    assert not judge._settled()
    soak.grow(30)
    judge._note_returned()
    assert judge._settled()


def test_a_late_mark_counts_its_settling_from_when_it_was_taken(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak, settle=10.0)  # its clock says 1000
    judge.start()
    judge.mark(1, end=100.0)  # the watch's look took until 1000
    judge._note_returned()
    soak.tail.caught_up_at = 500.0
    assert not judge._settled()
    soak.tail.caught_up_at = 1010.0
    assert judge._settled()


def test_a_window_whose_judging_fails_is_written_unjudged_and_the_rest_go_on(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    calls = []

    def judge_or_fail(bounds: Mapping[str, Bound], segments: Iterable[Path]) -> WindowFates:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return judge_window(soak.run, bounds, segments)

    out = soak.run / rundir.SOAK / rundir.SOAK_JUDGED
    judge = SoakJudge(soak.run / LEDGERS, soak.tail, judge_or_fail, 0.0, out, clock=lambda: 1000.0, every=3600)
    judge.start()
    soak.grow(40)
    soak.read(1, 0, len(FATES))
    judge.mark(1, end=100.0)
    soak.grow(len(FATES))
    soak.tail.caught_up_at = 10_000.0
    judge.finish(timeout=1)
    lines = [json.loads(t) for t in out.read_text().splitlines()]
    assert "No space left on device" in lines[0]["unjudged"] and lines[1]["sent"] > 0
    reconcile_and_write(soak.run)
    _, judged = read_judged(soak.run)  # a window missing: no comparison, and no difference said
    assert judged is not None and judged["equals_whole"] is None and judged["differs"] == {}


def test_a_window_the_watch_closes_after_the_judge_finished_is_not_judged_twice(tmp_path: Path) -> None:
    """The watch's last look may come after finish() took what was left as the last window: a mark
    then would judge the same records again. It is refused, and the windows still cover each record once."""
    soak = Soak(tmp_path, FATES)
    judge = _judge(soak)
    judge.start()
    soak.grow(40)
    soak.read(soak.tail.segment, 0, 40)
    judge.mark(1, end=100.0)
    soak.grow(len(FATES))
    soak.read(soak.tail.segment, 40, len(FATES))
    soak.tail.caught_up_at = 10_000.0
    judge.finish(timeout=1)
    judge.mark(2, end=200.0)  # late
    assert judge._pending == []
    lines = [json.loads(t) for t in (soak.run / rundir.SOAK / rundir.SOAK_JUDGED).read_text().splitlines()]
    assert [line["bounds"]["p0"] for line in lines] == [[0, 40], [40, None]]
    for path in (soak.run / LEDGERS).glob("consumer-*"):  # the synthetic run's consumer, which windows leave out
        path.unlink()
    assert not_from_windows(soak.run) is None
