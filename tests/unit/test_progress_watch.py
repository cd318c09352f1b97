"""Leader epochs and high watermarks only move forward, per broker: the oracle's check on hand-built
histories (``epoch_regression``, ``hw_regression``), and the watch that writes what it checks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chaos import rundir
from chaos.experiments.progress_watch import ProgressWatch
from chaos.experiments.watches import Watches
from chaos.oracle.anomalies import ANOMALY_NAMES
from chaos.oracle.epochs import Seen, epoch_regressions, hw_regressions, read_progress
from chaos.oracle.expectations import METRICS
from chaos.oracle.reconcile import reconcile
from chaos.watched import BrokerView
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import Kind
from tests.helpers.handmade import one_partition_run


def seen(t: int, broker: int, epoch: int, hw: int | None = None, leader: int | None = None, part: int = 0) -> Seen:
    """Broker ``broker``'s view of partition ``part`` at ``t``: it leads when ``hw`` is given (unless
    ``leader`` says otherwise)."""
    lead = leader if leader is not None else (broker if hw is not None else 99)
    return Seen(t, broker, part, lead, epoch, hw)


def counts(samples: list[Seen]) -> tuple[int, int]:
    return epoch_regressions(samples, 5)[0], hw_regressions(samples, 5)[0]


# -- the check, case by case ---------------------------------------------------------------------


def test_a_history_that_only_moves_forward_has_no_regression() -> None:
    history = [seen(1, 1, 3, 10), seen(2, 2, 3), seen(3, 1, 3, 10), seen(4, 1, 3, 15), seen(5, 2, 4, 16)]
    assert counts(history) == (0, 0)


def test_an_epoch_going_back_on_one_broker_is_one_case_named_in_its_example() -> None:
    history = [seen(1000, 2, 5), seen(1500, 2, 6), seen(2000, 2, 4), seen(2500, 2, 4), seen(3000, 2, 6)]
    count, shown = epoch_regressions(history, 5)
    assert count == 1  # a broker stuck on the older view for two looks is one case
    assert shown == [{"broker": 2, "partition": 0, "earlier": 6, "later": 4, "earlier_t_ms": 1500, "later_t_ms": 2000}]
    assert hw_regressions(history, 5) == (0, [])


def test_falling_back_again_after_catching_up_is_a_second_case() -> None:
    assert counts([seen(1, 1, 6), seen(2, 1, 4), seen(3, 1, 6), seen(4, 1, 5)]) == (2, 0)


def test_a_stale_isolated_broker_behind_another_is_no_regression() -> None:
    # broker 3, cut off, still reports epoch 3 while broker 1 leads at 5: two brokers, two views
    history = [seen(1, 1, 5, 100), seen(1, 3, 3, 80, leader=3), seen(2, 1, 5, 110), seen(2, 3, 3, 80, leader=3)]
    assert counts(history) == (0, 0)


def test_a_high_watermark_dropping_within_one_broker_and_epoch_is_one_case() -> None:
    history = [seen(10, 1, 7, 100), seen(20, 1, 7, 120), seen(30, 1, 7, 90), seen(40, 1, 7, 95)]
    count, shown = hw_regressions(history, 5)
    assert count == 1
    assert shown == [
        {
            "broker": 1,
            "partition": 0,
            "earlier": 120,
            "later": 90,
            "earlier_t_ms": 20,
            "later_t_ms": 30,
            "leader_epoch": 7,
        }
    ]


def test_a_new_leader_s_lower_high_watermark_is_no_regression() -> None:
    # broker 1 led at epoch 3 up to 100; broker 2 leads at epoch 4 from 90 (it had replicated less)
    history = [seen(1, 1, 3, 100), seen(1, 2, 3), seen(2, 2, 4, 90), seen(2, 1, 4), seen(3, 2, 4, 95)]
    assert counts(history) == (0, 0)


def test_the_same_broker_leading_again_at_a_new_epoch_starts_its_watermark_afresh() -> None:
    # an unclean election may truncate: only within one broker and one epoch is a decrease a violation
    assert counts([seen(1, 1, 3, 100), seen(2, 1, 4), seen(3, 1, 5, 60)]) == (0, 0)


def test_a_high_watermark_a_follower_reports_is_not_checked() -> None:
    assert counts([seen(1, 2, 3, 100, leader=1), seen(2, 2, 3, 50, leader=1)]) == (0, 0)


def test_partitions_are_apart() -> None:
    assert counts([seen(1, 1, 5, 100, part=0), seen(2, 1, 2, 10, part=1)]) == (0, 0)


# -- the same, as properties ---------------------------------------------------------------------

Step = tuple[int, int, bool, int, bool]  # broker, partition, epoch moves, watermark growth, leads


@st.composite
def monotonic(draw: st.DrawFn) -> list[Seen]:
    """Histories of three brokers over three partitions in which each broker's epoch of a partition
    never goes back, nor its watermark at one epoch while it leads."""
    steps: list[Step] = draw(
        st.lists(
            st.tuples(st.integers(1, 3), st.integers(0, 2), st.booleans(), st.integers(0, 50), st.booleans()),
            max_size=60,
        )
    )
    epochs: dict[tuple[int, int], int] = {}
    marks: dict[tuple[int, int, int], int] = {}
    history = []
    for t, (broker, part, moves, grows, leads) in enumerate(steps):
        epoch = epochs.get((broker, part), broker) + int(moves)  # brokers start at different epochs
        epochs[broker, part] = epoch
        hw = None
        if leads:
            hw = marks[broker, part, epoch] = marks.get((broker, part, epoch), 0) + grows
        history.append(Seen(t, broker, part, broker if leads else 0, epoch, hw))
    return history


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(monotonic())
def test_a_monotonic_history_has_no_regression(history: list[Seen]) -> None:
    assert counts(history) == (0, 0)


@FAST
@given(monotonic(), st.data())
def test_one_epoch_going_back_is_one_epoch_regression(history: list[Seen], data: st.DataObject) -> None:
    assume(any(s.leader_epoch > 0 for s in history))
    last = {(s.broker, s.partition): s for s in history}
    victim = data.draw(st.sampled_from(sorted((s for s in last.values() if s.leader_epoch > 0), key=str)))
    lower = data.draw(st.integers(0, victim.leader_epoch - 1))
    back = replace(victim, t_ms=len(history), leader=0, leader_epoch=lower, high_watermark=None)
    count, shown = epoch_regressions([*history, back], 5)
    assert count == 1
    assert shown[0]["broker"] == victim.broker and shown[0]["later"] == back.leader_epoch
    assert shown[0]["earlier"] == victim.leader_epoch


@FAST
@given(monotonic(), st.data())
def test_one_watermark_going_back_is_one_hw_regression(history: list[Seen], data: st.DataObject) -> None:
    current = {(s.broker, s.partition): s.leader_epoch for s in history}
    led = [s for s in history if s.high_watermark and current[s.broker, s.partition] == s.leader_epoch]
    assume(led)
    victim = data.draw(st.sampled_from(led))
    highest = max(s.high_watermark or 0 for s in led if (s.broker, s.partition) == (victim.broker, victim.partition))
    back = replace(victim, t_ms=len(history), high_watermark=data.draw(st.integers(0, highest - 1)))
    count, shown = hw_regressions([*history, back], 5)
    assert (count, epoch_regressions([*history, back], 5)[0]) == (1, 0)
    assert shown[0]["earlier"] == highest and shown[0]["leader_epoch"] == victim.leader_epoch


# -- the file ------------------------------------------------------------------------------------


def progress_file(run_dir: Path) -> Path:
    return run_dir / rundir.WATCH / rundir.PROGRESS


def test_a_torn_last_line_is_left_out(tmp_path: Path) -> None:
    path = progress_file(tmp_path)
    path.parent.mkdir(parents=True)
    whole = {"t_ms": 1, "broker": 1, "partition": 0, "leader": 1, "leader_epoch": 3, "high_watermark": 7}
    path.write_text(json.dumps(whole) + "\n" + '{"t_ms": 2, "broker": 1, "partit')
    assert read_progress(tmp_path) == [Seen(1, 1, 0, 1, 3, 7)]


def test_a_run_without_the_file_has_none(tmp_path: Path) -> None:
    assert read_progress(tmp_path) == []


def run_with_progress(run_dir: Path, samples: list[Seen]) -> Path:
    one_partition_run(run_dir, "sync", [(Kind.INTENT, 0, 1, -1, -1)], [(Kind.ACK, 0, 1, 0, 0)], [(0, 0, Status.VALID)])
    if samples:
        path = progress_file(run_dir)
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(as_row(s)) + "\n" for s in samples))
    return run_dir


def as_row(s: Seen) -> dict[str, int | None]:
    keys = ("t_ms", "broker", "partition", "leader", "leader_epoch", "high_watermark")
    return {k: getattr(s, k) for k in keys}


def test_the_verdict_counts_both_and_an_expectation_can_name_them(tmp_path: Path) -> None:
    assert {"epoch_regression", "hw_regression"} <= set(ANOMALY_NAMES)
    assert METRICS["epoch_regression"] == ("anomalies", "epoch_regression")
    history = [seen(1, 1, 5, 10), seen(2, 1, 5, 8), seen(3, 1, 4)]
    verdict = reconcile(run_with_progress(tmp_path / "run", history))
    assert verdict.anomalies["epoch_regression"] == 1
    assert verdict.anomalies["hw_regression"] == 1
    assert verdict.examples["hw_regression"][0]["earlier"] == 10


def test_an_older_run_without_the_file_has_none_and_no_examples(tmp_path: Path) -> None:
    verdict = reconcile(run_with_progress(tmp_path / "run", []))
    assert verdict.anomalies["epoch_regression"] == verdict.anomalies["hw_regression"] == 0
    assert not verdict.examples.get("epoch_regression") and not verdict.examples.get("hw_regression")


# -- the watch -----------------------------------------------------------------------------------


View = BrokerView


def test_the_watch_appends_each_look_and_skips_one_that_raises(tmp_path: Path) -> None:
    answers: list[list[View] | Exception] = [
        [View(1, 1, 0, 1, 3, 10), View(1, 2, 0, 1, 3, None)],
        RuntimeError("no broker"),
        [View(2, 1, 0, 1, 3, 12)],
    ]
    looks = iter(answers)

    def look() -> list[View]:
        got = next(looks)
        if isinstance(got, Exception):
            raise got
        return got

    watch = ProgressWatch(look, progress_file(tmp_path))
    for _ in range(3):
        watch.sample()
    assert watch.looks == 2
    # what the watch writes is what the oracle reads
    assert read_progress(tmp_path) == [Seen(1, 1, 0, 1, 3, 10), Seen(1, 2, 0, 1, 3, None), Seen(2, 1, 0, 1, 3, 12)]


def test_the_watch_thread_looks_until_stopped_and_looks_once_more(tmp_path: Path) -> None:
    looked = threading.Event()
    calls: list[int] = []

    def look() -> list[View]:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("a broker went away mid-look")
        looked.set()
        return [View(len(calls), 1, 0, 1, 3, len(calls))]

    watch = ProgressWatch(look, progress_file(tmp_path), interval=0.01)
    watch.stop()  # not started: nothing
    watch.start()
    assert looked.wait(10)
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    watch.stop()
    watch.stop()  # stopped already: nothing more
    written = read_progress(tmp_path)
    assert len(written) == len(calls) - 1 and hw_regressions(written, 5) == (0, [])


def test_watches_stop_every_one_even_when_one_fails() -> None:
    stopped: list[str] = []

    class Fails:
        def start(self) -> None: ...
        def stop(self) -> None:
            stopped.append("fails")
            raise RuntimeError("stop failed")

    class Fine:
        def start(self) -> None: ...
        def stop(self) -> None:
            stopped.append("fine")

    with pytest.raises(RuntimeError):
        Watches(Fails(), Fine()).stop()
    assert stopped == ["fails", "fine"]


# -- the cluster's asking --------------------------------------------------------------------------


def test_each_broker_is_asked_itself_and_one_that_does_not_answer_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from chaos.cluster import broker_views as views
    from chaos.cluster.admin import MetadataAnswer

    def metadata(admin: object, node: int, topic: str) -> MetadataAnswer:
        if node == 2:
            raise KafkaTimeoutError("paused")
        parts = [
            {"partition_index": 0, "leader_id": 1, "leader_epoch": 5, "replica_nodes": [], "isr_nodes": []},
            {
                "partition_index": 1,
                "leader_id": 3,
                "leader_epoch": 2 if node == 1 else 3,
                "replica_nodes": [],
                "isr_nodes": [],
            },
        ]
        return {"topics": [{"error_code": 0, "partitions": parts}]}  # type: ignore[typeddict-item]

    asked: list[tuple[int, dict[int, int]]] = []

    def marks(admin: object, node: int, topic: str, epochs: dict[int, int]) -> dict[int, int]:
        asked.append((node, dict(epochs)))
        return {p: 100 * node for p in epochs}

    monkeypatch.setattr(views, "metadata_from", metadata)
    monkeypatch.setattr(views, "high_watermarks_from", marks)
    got = views.broker_views(object(), [1, 2, 3], "t")  # type: ignore[arg-type]
    assert asked == [(1, {0: 5}), (3, {1: 3})]  # each leader, at the epoch it just gave
    assert [(v.broker, v.partition, v.leader, v.leader_epoch, v.high_watermark) for v in got] == [
        (1, 0, 1, 5, 100),
        (1, 1, 3, 2, None),
        (3, 0, 1, 5, None),
        (3, 1, 3, 3, 300),
    ]
    with pytest.raises(KafkaConnectionError):
        views.broker_views(object(), [2], "t")  # type: ignore[arg-type]
