"""Soaks without a cluster: the schedule a soak draws, its loading, the disk it asks for, the ledgers
counted as they grow, the watch's windows and the summary's figures (docs/soak.md)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from chaos import rundir
from chaos.errors import UsageError
from chaos.experiments.loading import load_experiment
from chaos.experiments.model import Experiment
from chaos.experiments.plan import plan_experiment
from chaos.experiments.soak_watch import Resources, SoakWatch
from chaos.reports.soak import soak_markdown, soak_summary, write_soak
from chaos.workloads.ledger import PROCESSED, PRODUCER_EVENT, Kind
from chaos.workloads.tally import LedgerTally, Tally

B2_LIKE = """\
name: soak-b2
producer: {mode: async, rate: 500, count: 9000, settings: {acks: 1}}
consumer: {strategy: after_process}
faults:
  - {kind: broker_pause, target: followers, at: 0, duration: 4}
  - {kind: broker_kill, target: "leader:soak-b2:0", at: 2, duration: 3}
phases: {fault_window: 12}
expect: {broker_loss: "> 0"}
"""


def _file(tmp_path: Path, text: str = B2_LIKE) -> Path:
    path = tmp_path / "soak.yaml"
    path.write_text(text)
    return path


def test_a_soak_repeats_the_files_steps_every_period(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path), soak={"duration": 95, "every": 30})
    plan = plan_experiment(exp, run_id="r", run_dir=tmp_path / "run")
    assert plan.window == 95 and exp.random_faults is None
    assert [(f.kind, f.at, f.duration) for f in plan.faults] == [
        (kind, 30 * i + at, duration)
        for i in range(3)
        for kind, at, duration in [("broker_pause", 0, 4), ("broker_kill", 2, 3)]
    ]
    assert [f.name for f in plan.faults[:2]] == ["broker_pause-0-0", "broker_kill-1-0"]
    with pytest.raises(UsageError, match="the steps heal 5 s into a period: every must be at least 6 s"):
        load_experiment(_file(tmp_path), soak={"duration": 60, "every": 5})


def test_a_soaks_verdict_is_its_windows_unless_it_asks_for_the_whole(tmp_path: Path) -> None:
    def verdict(soak: dict[str, object]) -> str:
        exp = load_experiment(_file(tmp_path), soak={"duration": 95, "every": 30, **soak})
        return plan_experiment(exp, run_id="r", run_dir=tmp_path / "run").soak_verdict

    assert verdict({}) == "windows" and verdict({"verdict": "whole"}) == "whole"
    with pytest.raises(UsageError, match="verdict"):
        verdict({"verdict": "halves"})

    alone = B2_LIKE.replace("consumer: {strategy: after_process}\n", "")

    def release(soak: dict[str, object], text: str = alone) -> bool:
        exp = load_experiment(_file(tmp_path, text), soak={"duration": 95, "every": 30, **soak})
        return plan_experiment(exp, run_id="r", run_dir=tmp_path / "run").soak_release

    # judged rows are released by default, only with the windows' verdict (the whole one reads every row)
    assert release({}) and not release({"ledgers": "keep"}) and not release({"verdict": "whole"})
    assert not release({}, B2_LIKE)  # a consumer: reconciled whole, nothing released

    def topic(text: str, soak: dict[str, object]) -> dict[str, str]:
        exp = load_experiment(_file(tmp_path, text), soak={"duration": 95, "every": 30, **soak})
        return plan_experiment(exp, run_id="r", run_dir=tmp_path / "run").topic.config

    # a soak that releases its judged rows sets a retention on its topic: the brokers delete what
    # was judged long ago (twice the records in flight: kafka-python's 120 s delivery, three periods, 35 s)
    assert topic(alone, {}) == {"retention.ms": str(2 * (120 + 90 + 35) * 1000), "segment.ms": "60000"}
    assert topic(alone, {"ledgers": "keep"}) == {} and topic(alone, {"verdict": "whole"}) == {}
    assert topic(B2_LIKE, {}) == {}  # a consumer: reconciled whole, its log read back at the end
    own = alone.replace("phases:", "topic: {config: {retention.ms: 3600000}}\nphases:")
    assert topic(own, {}) == {"retention.ms": "3600000"}  # the file's own is kept
    with pytest.raises(UsageError, match="ledgers"):
        release({"ledgers": "drop"})


def test_a_soak_draws_one_fault_every_period_healed_before_the_next(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path), soak={"duration": 120, "every": 30, "hold": 8, "schedule": "draw"})
    plan = plan_experiment(exp, run_id="r", run_dir=tmp_path / "run", seed=7)
    assert plan.window == 120 and plan.soak_window == 30
    assert [f.at for f in plan.faults] == [0, 30, 60, 90]
    assert {f.duration for f in plan.faults} == {8}
    # drawn from the file's own steps, each alone: its pause and its kill, without their timing
    assert {f.kind for f in plan.faults} <= {"broker_pause", "broker_kill"}
    assert exp.producer.count is None and exp.producer.duration is None  # it runs the soak's length
    again = plan_experiment(exp, run_id="r", run_dir=tmp_path / "run", seed=7)
    assert [f.kind for f in again.faults] == [f.kind for f in plan.faults]  # the seed draws the same


def test_a_drawn_fault_starts_each_period_whatever_the_duration_leaves_over(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path), soak={"duration": 100, "every": 30, "schedule": "draw"})
    plan = plan_experiment(exp, run_id="r", run_dir=tmp_path / "run", seed=1)
    assert [f.at for f in plan.faults] == [0, 30, 60] and plan.window == 100


def test_a_soak_sections_steps_repeat_and_their_names_stay_apart(tmp_path: Path) -> None:
    steps = [{"kind": "broker_kill", "target": "leader", "at": 0, "duration": 3}]
    exp = Experiment.model_validate({"name": "x", "soak": {"duration": 60, "every": 20, "steps": steps}})
    assert exp.soak is not None and exp.soak.schedule == "repeat" and len(exp.faults) == 3
    named = [*steps, {"kind": "isolate", "target": "random", "name": "broker_kill-0", "at": 5, "duration": 2}]
    with pytest.raises(ValueError, match="two steps are named 'broker_kill-0'"):
        Experiment.model_validate({"name": "x", "soak": {"duration": 60, "every": 20, "steps": named}})
    with pytest.raises(ValueError, match="hold and kinds are for schedule: draw"):
        Experiment.model_validate({"name": "x", "soak": {"duration": 60, "every": 20, "steps": steps, "hold": 2}})


def test_a_soak_written_back_as_experiment_yaml_loads_to_the_same_schedule(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path), soak={"duration": 90, "every": 30, "hold": 10, "schedule": "draw"})
    repeated = load_experiment(_file(tmp_path), soak={"duration": 90, "every": 30})
    assert Experiment.model_validate(repeated.model_dump(mode="json", exclude_none=True)).faults == repeated.faults
    dumped = exp.model_dump(mode="json", exclude_none=True)
    again = Experiment.model_validate(dumped)
    assert again.random_faults == exp.random_faults and again.fault_window() == 90


@pytest.mark.parametrize(
    ("soak", "words"),
    [
        ({"duration": 60, "every": 10, "hold": 10, "schedule": "draw"}, "hold (10 s) must end at least 1 s before"),
        ({"duration": 20, "every": 30}, "duration (20 s) is shorter than one period"),
        ({"duration": 60, "kinds": [{"kind": "no_such_fault"}]}, "soak.kinds.0"),
        ({"duration": 60, "schedule": "repeat", "steps": []}, "a repeated soak needs steps"),
    ],
)
def test_a_soak_that_cannot_be_drawn_is_refused_at_load_naming_what(
    tmp_path: Path, soak: dict[str, object], words: str
) -> None:
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_experiment(_file(tmp_path), soak=soak)


def test_a_soak_section_with_its_own_faults_is_refused() -> None:
    with pytest.raises(ValueError, match="a soak plays its own faults"):
        Experiment.model_validate(
            {"name": "x", "soak": {"duration": 60}, "faults": [{"kind": "broker_kill", "target": "leader"}]}
        )


def test_the_soak_command_refuses_bad_input_in_one_sentence_and_starts_nothing(tmp_path: Path) -> None:
    path = _file(tmp_path)
    fast = tmp_path / "fast.yaml"  # 20 billion records: more than any disk here holds
    fast.write_text(B2_LIKE.replace("rate: 500", "rate: 50000"))
    reports = tmp_path / "reports"
    cases = [
        (["soak", str(tmp_path / "none.yaml"), "--duration", "60s"], "is not an experiment file"),
        (["soak", str(path), "--duration", "soon"], "--duration 'soon' is not a duration"),
        (
            ["soak", str(path), "--duration", "60s", "--every", "10s", "--hold", "10s", "--schedule", "draw"],
            "hold (10 s)",
        ),
        (["soak", str(fast), "--duration", "100h", "--reports", str(reports)], "GiB is free"),
        (["soak", str(path), "--duration", "60s", "--client", "all"], "a soak runs one client"),
        # the option reconcile's refusal advises is one the command takes
        (["soak", str(path), "--duration", "60s", "--verdict", "whole", "--client", "all"], "a soak runs one client"),
        # and the one an inconclusive released soak's verdict advises
        (["soak", str(path), "--duration", "60s", "--keep-ledgers", "--client", "all"], "a soak runs one client"),
    ]
    for args, words in cases:
        command = [sys.executable, "-m", "chaos.cli", *args]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not reports.exists()


def _events(rows: Sequence[tuple[int, int, int, int, int, int]]) -> bytes:
    out = np.zeros(len(rows), PRODUCER_EVENT)
    for i, (kind, seq, end, part, offset, t_ms) in enumerate(rows):
        out[i] = (kind, seq, end, part, offset, 0, t_ms)
    return out.tobytes()


def test_the_ledgers_are_counted_past_where_the_last_look_stopped(tmp_path: Path) -> None:
    ledgers = tmp_path / rundir.LEDGERS
    ledgers.mkdir()
    events, acks = ledgers / "producer-p0.events", ledgers / "producer-p0.acks"
    (ledgers / "consumer-c0.json").write_text("{}")
    events.write_bytes(_events([(Kind.INTENT, 0, 10, -1, -1, 100)]))
    acks.write_bytes(_events([(Kind.ACK, i, i + 1, i % 2, i // 2, 100 + 5 * i) for i in range(4)]))
    tally = LedgerTally(tmp_path)
    first = tally.look()
    assert (first.sent, first.acked, first.processed) == (10, 4, 0)
    assert first.ack_ms_p50 == pytest.approx(7.5) and first.lag == 2 + 2  # offsets 0 and 1 of each partition
    # a torn ack waits for the rest of its bytes; what came since is all the next look sees
    more = _events([(Kind.ACK, 4, 5, 0, 2, 150), (Kind.ERROR_SEEN, 5, 6, -1, -1, 160)])
    with acks.open("ab") as f:
        f.write(more + more[:10])
    processed = np.zeros(2, PROCESSED)
    processed["partition"], processed["offset"] = [0, 1], [2, 1]
    (ledgers / "consumer-c0.processed").write_bytes(processed.tobytes())
    second = tally.look()
    assert (second.sent, second.acked, second.errors, second.processed) == (0, 1, 1, 2)
    assert second.ack_ms_p99 == 50.0 and second.lag == 0
    assert tally.look() == Tally(lag=0)  # nothing new; the torn ack still waits


def test_a_sync_producers_acks_in_its_events_and_acks0_confirmations_are_told_apart(tmp_path: Path) -> None:
    ledgers = tmp_path / rundir.LEDGERS
    ledgers.mkdir()
    (ledgers / "consumer-c0.json").write_text("{}")
    sync = [(Kind.INTENT, i, i + 1, -1, -1, 10 * i) for i in range(5)]
    sync += [(Kind.ACK, i, i + 1, 0, i, 10 * i + 40) for i in range(5)]  # a sync send acks in its thread
    (ledgers / "producer-p0.events").write_bytes(_events(sync))
    (ledgers / "producer-p1.events").write_bytes(_events([(Kind.INTENT, 0, 3, -1, -1, 0)]))
    (ledgers / "producer-p1.acks").write_bytes(_events([(Kind.ACK, i, i + 1, -1, -1, 5) for i in range(3)]))
    got = LedgerTally(tmp_path).look()
    assert (got.sent, got.acked, got.unconfirmed) == (8, 5, 3)
    assert got.ack_ms_p50 == got.ack_ms_p99 == 40.0 and got.lag == 5  # nothing processed of offsets 0-4
    (ledgers / "producer-p0.events").unlink()
    assert LedgerTally(tmp_path).look().lag is None  # acks=0 alone: no offset to measure a lag from


def test_the_watch_writes_a_line_a_window_and_the_rest_of_the_last_on_stop(tmp_path: Path) -> None:
    out = tmp_path / rundir.SOAK / rundir.SOAK_WINDOWS
    said: list[str] = []
    calls = iter(range(1000))

    def tally() -> Tally:
        return Tally(sent=10, acked=9, processed=8, ack_ms_p99=5.0, lag=next(calls))

    looks = iter(range(1000))

    def resources() -> Resources:
        n = next(looks)
        if n == 2:
            raise RuntimeError("docker went away")  # evidence, never a reason to stop
        return Resources({"broker-1": 300.0}, {"brokers": 3.0 * n, "harness": 0.0})

    active = ["broker_kill-0"]
    watch = SoakWatch(0.3, out, tally, lambda: list(active), resources, said.append, sample=0.02)
    watch.start()
    time.sleep(0.45)
    active.clear()
    time.sleep(0.5)
    watch.stop()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(said) == watch.windows >= 3
    assert [line["window"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[0]["faults"] == ["broker_kill-0"] and lines[-1]["faults"] == []
    assert all(line["sent"] == 10 for line in lines)
    assert lines[0]["memory_mib"] == {"broker-1": 300.0} and lines[1]["memory_mib"] == {}
    assert lines[0]["cores"] == {"brokers": 10.0, "harness": 0.0}  # 3 CPU-seconds in 0.3 s: 10 cores
    assert lines[1]["cores"] == {} and lines[2]["cores"]["brokers"] == pytest.approx(10.0, rel=0.2)  # over both
    assert all(a["end_ms"] == b["start_ms"] for a, b in itertools.pairwise(lines))
    assert said[0].startswith("soak window 1: 10 sent, 9 acked")
    assert threading.active_count() < 50 and watch._thread is None


def _soak_run(tmp_path: Path, lost: dict[str, list[list[int]]] | None) -> Path:
    run = tmp_path / "run"
    (run / rundir.SOAK).mkdir(parents=True)
    t0 = 1_800_000_000
    lines = [
        {"window": i + 1, "start_ms": (t0 + 10 * i) * 1000, "end_ms": (t0 + 10 * i + 10) * 1000, "sent": 100,
         "acked": 100, "errors": 0, "processed": 90, "acked_per_s": 10.0, "ack_ms_p50": 2.0,
         "ack_ms_p99": [5.0, 6.0, 30.0][i], "lag": [10, 500, 40000][i], "faults": [],
         "memory_mib": {"broker-1": 300.0 + 200 * i}, "cores": {"brokers": 1.2, "workloads": 0.5}}
        for i in range(3)
    ]  # fmt: skip
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"window": 4, "sta'
    (run / rundir.SOAK / rundir.SOAK_WINDOWS).write_text(text)
    timeline = [
        {"event": "inject", "fault": "broker_kill-0", "kind": "broker_kill", "t": t0 + 1},
        {"event": "heal", "fault": "broker_kill-0", "kind": "broker_kill", "t": t0 + 4},
        {"event": "inject", "fault": "broker_kill-1", "kind": "broker_kill", "t": t0 + 19.5},
        {"event": "heal", "fault": "broker_kill-1", "kind": "broker_kill", "t": t0 + 22},
        {"event": "inject_failed", "fault": "isolate-2", "kind": "isolate", "t": t0 + 25, "error": "no leader"},
    ]
    (run / rundir.TIMELINE).write_text("".join(json.dumps(e) + "\n" for e in timeline))
    if lost is not None:
        unknown = [[t0 + 12, 6]]  # sent in the second window, fate unknown (a producer killed mid-flight)
        (run / rundir.VERDICT).write_text(json.dumps({"conclusive": True, "lost_sent": lost, "unknown_sent": unknown}))
    return run


def test_the_windows_carry_their_faults_and_their_loss_adding_up_to_the_verdicts(tmp_path: Path) -> None:
    t0 = 1_800_000_000
    # sent before the first window (warmup), in each window, on a boundary, after the last (settle)
    lost = {"broker": [[t0 - 3, 7], [t0 + 2, 5], [t0 + 9, 1], [t0 + 10, 2], [t0 + 35, 4]], "producer": [[t0 + 21, 3]]}
    summary = soak_summary(_soak_run(tmp_path, lost))
    assert summary is not None
    windows = summary["windows"]
    assert len(windows) == 3  # the torn line is left out
    assert [w["faults"] for w in windows] == [["broker_kill-0"], ["broker_kill-1"], ["broker_kill-1"]]
    assert [w["lost_broker"] for w in windows] == [7 + 5 + 1, 2, 4]
    assert [w["lost_producer"] for w in windows] == [0, 0, 3]
    assert [w["unknown"] for w in windows] == [0, 6, 0]
    assert sum(w["lost_broker"] or 0 for w in windows) == sum(n for _, n in lost["broker"])
    assert (summary["with_faults"], summary["with_loss"], summary["with_faults_and_loss"]) == (3, 3, 3)
    assert summary["ack_ms_p99"] == {"first": 5.0, "last": 30.0, "growing": True}
    assert summary["lag_recovers"] is False and summary["lag"]["growing"]
    assert summary["broker_memory_mib"]["broker-1"] == {"first": 300.0, "last": 700.0, "growing": True}
    assert "never recovers" in soak_markdown(summary)


def test_a_soak_without_a_conclusive_verdict_says_no_loss_figure(tmp_path: Path) -> None:
    run = _soak_run(tmp_path, None)
    summary = write_soak(run)
    assert summary is not None and {w["lost_broker"] for w in summary["windows"]} == {None}
    assert "| — | — |" in (run / rundir.SOAK / rundir.SOAK_MARKDOWN).read_text()
    assert soak_summary(tmp_path) is None  # no windows: no soak


def test_a_client_that_stops_delivering_for_good_is_said(tmp_path: Path) -> None:
    run = _soak_run(tmp_path, {"broker": [], "producer": []})
    path = run / rundir.SOAK / rundir.SOAK_WINDOWS
    lines = [json.loads(text) for text in path.read_text().splitlines()[:3]]
    lines[1]["acked"] = lines[2]["acked"] = 0  # sending on, nothing acknowledged: kafka-python's stuck sender
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = write_soak(run)
    assert summary is not None and summary["acks_stopped"] == 2
    assert "acks stopped in window 2 and never came back: 200 records sent since" in soak_markdown(summary)
    lines[2]["acked"] = 5  # they came back: no stop
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    again = soak_summary(run)
    assert again is not None and again["acks_stopped"] is None


def test_a_soaks_many_faults_are_counted_by_kind_in_the_reports_faults_line(tmp_path: Path) -> None:
    from chaos.reports.words import faults_line

    run = tmp_path / "run"
    run.mkdir()
    events = [
        {"event": event, "fault": f"{kind}-{i}", "kind": kind, "t": 1_800_000_000 + 30 * i + (event == "heal")}
        for i in range(10)
        for kind in ("broker_pause", "broker_kill")
        for event in ("inject", "heal")
    ]
    (run / rundir.TIMELINE).write_text("".join(json.dumps(e) + "\n" for e in events))
    assert faults_line(run) == "20 faults: 10 broker_pause, 10 broker_kill"


def test_a_watch_whose_look_keeps_failing_waits_between_tries_and_stops(tmp_path: Path) -> None:
    tries = [0]

    def tally() -> Tally:
        tries[0] += 1
        if tries[0] > 1:  # the first look is the baseline at start
            raise OSError("No space left on device")
        return Tally()

    watch = SoakWatch(0.05, tmp_path / "w.jsonl", tally, list, lambda: Resources({}, {}), print, sample=0.05)
    watch.start()
    time.sleep(0.5)
    watch.stop(timeout=5)
    assert 2 <= tries[0] <= 15 and watch._thread is None  # about one try a sample, not thousands
