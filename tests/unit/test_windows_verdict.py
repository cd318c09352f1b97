"""A soak's verdict made of its judged windows alone: the whole run's reconcile of every figure a
window judges, its examples, and the whole reconcile instead where a window was not judged, was
judged unsure, or an expectation names what windows do not judge."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos import rundir
from chaos.errors import UsageError
from chaos.oracle import reconcile
from chaos.oracle.synthetic import Fate, History, SyntheticProducer, write
from chaos.oracle.window import Bound, judge_window
from chaos.oracle.windows_verdict import controls, not_from_windows, windows_verdict
from chaos.reports.soak import soak_summary
from chaos.reports.soak_judged import judged_line, read_judged
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.ledger import LOG_RECORD, PRODUCER_EVENT
from tests.unit.test_oracle import histories

#: The counts a window judges.
COUNTS = ("sent", "acked", "unconfirmed", "send_errors", "failed", "unknown", "in_log", "damaged")


def _producers_only(run: Path) -> None:
    """A synthetic run without its consumer: a soak judged in windows has none."""
    for path in (run / LEDGERS).glob("consumer-*"):
        path.unlink()


def _judge_in_windows(run: Path, producers: list[str], cuts: list[int]) -> None:
    """``soak/judged.jsonl`` as the soak's judge writes it, for windows cut at ``cuts``."""
    edges = [0, *sorted(set(cuts)), None]
    out = run / rundir.SOAK / rundir.SOAK_JUDGED
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for number, (lo, hi) in enumerate(itertools.pairwise(edges), start=1):
            if lo is None:
                continue
            bounds = {p: Bound(lo, hi) for p in producers}
            fates = judge_window(run, bounds, [run / DRAIN / rundir.DRAIN_LOG])
            line = {"window": number, "while_running": True, **fates.as_dict(), "unsure": None}
            line["bounds"] = {p: [lo, hi] for p in producers}
            f.write(json.dumps(line) + "\n")


def _figures(v: object) -> dict[str, int]:
    from chaos.oracle.verdict import Verdict

    assert isinstance(v, Verdict)
    c, loss = v.counts.model_dump(), v.figures.model_dump()
    return {
        **{k: c[k] for k in COUNTS},
        "producer": loss["producer"],
        "broker": loss["broker"],
        "duplicates": v.anomalies["duplicates_in_log"],
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.lists(st.integers(min_value=1, max_value=130), max_size=5))
def test_the_windows_verdict_is_the_whole_reconcile_of_what_windows_judge(history: History, cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write(history, run)
        _producers_only(run)
        _judge_in_windows(run, [p.id for p in history.producers], cuts)
        if not history.producers:
            return
        assert not_from_windows(run) is None
        summed, whole = windows_verdict(run), reconcile(run)
        assert _figures(summed) == _figures(whole)
        assert summed.conclusive and summed.details.judged_in == "windows"
        for stage in ("broker", "producer", "unknown", "damaged"):
            assert len(summed.examples.get(stage, [])) == min(5, _stage_count(whole, stage))


def _stage_count(v: object, stage: str) -> int:
    from chaos.oracle.verdict import Verdict

    assert isinstance(v, Verdict)
    f = v.figures
    return {"broker": f.broker, "producer": f.producer, "unknown": v.counts.unknown, "damaged": v.counts.damaged}[stage]


def _lossy(tmp_path: Path) -> Path:
    fates = [Fate.OK] * 30 + [Fate.BROKER_LOST] * 7 + [Fate.OK] * 30 + [Fate.UNKNOWN] * 2 + [Fate.OK] * 10
    write(History("r1", [SyntheticProducer("p0", "async", fates)], partitions=3), tmp_path)
    _producers_only(tmp_path)
    _judge_in_windows(tmp_path, ["p0"], [20, 35, 60])
    return tmp_path


def test_examples_say_where_a_lost_record_was_acknowledged_and_controls_a_record_the_log_holds(
    tmp_path: Path,
) -> None:
    run = _lossy(tmp_path)
    v = windows_verdict(run)
    assert v.figures.broker == 7 and v.counts.unknown == 2
    broker = v.examples["broker"]
    assert len(broker) == 5 and [e["seq"] for e in broker] == [30, 31, 32, 33, 34]  # windows 2 then 3, in order
    whole = {(e["seq"], e["partition"], e["offset"]) for e in reconcile(run).examples["broker"]}
    assert {(e["seq"], e["partition"], e["offset"]) for e in broker} == whole  # the same acknowledged positions
    found = controls(run)
    assert set(found) == {0, 1, 2} and all(c.startswith("p0;") for c in found.values())
    # each control is a record of this run the log holds in that partition, from the latest window
    log = np.fromfile(run / DRAIN / rundir.DRAIN_LOG, dtype=LOG_RECORD)
    for partition, control in found.items():
        seq = int(control.split(";")[1])
        assert seq >= 60 and partition in set(log["partition"][log["seq"] == seq].tolist())


def test_a_window_unjudged_or_unsure_or_an_expectation_beyond_windows_sends_the_soak_to_the_whole(
    tmp_path: Path,
) -> None:
    run = _lossy(tmp_path)
    assert not_from_windows(run) is None
    (run / rundir.EXPECTATIONS).write_text(json.dumps({"broker_loss": 0, "duplicates_in_log": 0}))
    assert not_from_windows(run) is None
    v = windows_verdict(run)
    assert not v.passed and [(e.name, e.actual) for e in v.expectations] == [
        ("broker_loss == 0", 7),
        ("duplicates_in_log == 0", 0),
    ]
    (run / rundir.EXPECTATIONS).write_text(json.dumps({"broker_loss": ">0", "reordered": 0}))
    assert not_from_windows(run) == "the expectations name reordered, which only the whole run's reconcile judges"
    (run / rundir.EXPECTATIONS).write_text(json.dumps({"no_such_metric": 0}))
    with pytest.raises(UsageError, match="unknown expectation 'no_such_metric'"):
        not_from_windows(run)
    (run / rundir.EXPECTATIONS).unlink()
    judged = run / rundir.SOAK / rundir.SOAK_JUDGED
    lines = judged.read_text().splitlines()
    judged.write_text("\n".join([*lines[:-1], json.dumps({"window": 4, "unjudged": "the reader stopped"})]) + "\n")
    assert not_from_windows(run) == "window 4 was not judged: the reader stopped"
    unsure = {**json.loads(lines[0]), "unsure": "partition 1 was cut below what the reader had read"}
    judged.write_text("\n".join([json.dumps(unsure), *lines[1:]]) + "\n")
    assert not_from_windows(run) == "window 1 was judged unsure: partition 1 was cut below what the reader had read"
    judged.write_text("")
    assert not_from_windows(run) == "no window was judged"
    judged.write_text("\n".join(lines) + "\n")
    assert not_from_windows(run) is None
    (run / LEDGERS / "consumer-c0.json").write_text("{}")
    assert not_from_windows(run) == (
        "consumers read the topic, and only the whole run's reconcile judges what they processed"
    )


def test_a_damaged_ledger_makes_the_windows_verdict_inconclusive(tmp_path: Path) -> None:
    run = _lossy(tmp_path)
    bad = np.zeros(3, dtype=PRODUCER_EVENT)
    bad["kind"] = 99  # a kind no writer produces
    with (run / LEDGERS / "producer-p0.acks").open("ab") as f:
        f.write(bad.tobytes())
    _judge_in_windows(run, ["p0"], [20, 35, 60])
    v = windows_verdict(run)
    assert not v.conclusive and v.loss.broker is None and not v.trust.ledgers_intact
    assert v.details.provisional_loss is not None and v.details.provisional_loss.broker == 7
    assert "a damaged ledger" in v.trust.reasons[0]


def test_the_soak_report_gives_no_window_a_loss_its_inconclusive_verdict_withholds(tmp_path: Path) -> None:
    run = _lossy(tmp_path)
    with (run / LEDGERS / "producer-p0.acks").open("ab") as f:
        f.write(np.zeros(1, dtype=PRODUCER_EVENT).tobytes())
    _judge_in_windows(run, ["p0"], [20, 35, 60])
    verdict = windows_verdict(run)
    assert not verdict.conclusive
    (run / rundir.VERDICT).write_text(verdict.to_json())
    lines = [{"window": n, "start_ms": n * 1000, "end_ms": (n + 1) * 1000, "sent": 1} for n in (1, 2, 3, 4)]
    (run / rundir.SOAK / rundir.SOAK_WINDOWS).write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = soak_summary(run)
    assert summary is not None and [w["lost_broker"] for w in summary["windows"]] == [None] * 4


def test_the_soak_report_takes_each_windows_loss_from_its_judgement(tmp_path: Path) -> None:
    run = _lossy(tmp_path)
    (run / rundir.VERDICT).write_text(windows_verdict(run).to_json())
    lines = [{"window": n, "start_ms": n * 1000, "end_ms": (n + 1) * 1000, "sent": 1} for n in (1, 2, 3, 4)]
    (run / rundir.SOAK / rundir.SOAK_WINDOWS).write_text("".join(json.dumps(line) + "\n" for line in lines))
    by_window, judged = read_judged(run)
    assert judged is not None and judged["verdict_from_windows"] and judged["equals_whole"] is None
    assert "the verdict is their sum (no whole reconcile)" in judged_line(judged)
    summary = soak_summary(run)
    assert summary is not None
    assert [w["lost_broker"] for w in summary["windows"]] == [0, 5, 2, 0]  # cut at 20, 35, 60: seqs 30..36
    assert [w["unknown"] for w in summary["windows"]] == [0, 0, 0, 2]
    assert by_window[2]["lost_broker"] == 5


def test_reconciling_a_soak_judged_in_windows_gives_its_windows_verdict_or_says_why_not(tmp_path: Path) -> None:
    run = _lossy(tmp_path)
    written = windows_verdict(run)
    shutil.rmtree(run / DRAIN)
    assert reconcile(run).model_dump() == written.model_dump()  # from the files alone, with no verdict.json
    judged = run / rundir.SOAK / rundir.SOAK_JUDGED
    lines = judged.read_text().splitlines()
    judged.write_text("\n".join([*lines[:-1], json.dumps({"window": 4, "unjudged": "the reader stopped"})]) + "\n")
    with pytest.raises(UsageError, match=r"window 4 was not judged.*with --verdict whole"):
        reconcile(run)


def _lines(run: Path) -> list[str]:
    return (run / rundir.SOAK / rundir.SOAK_JUDGED).read_text().splitlines()


def _rewrite(run: Path, lines: list[str]) -> None:
    (run / rundir.SOAK / rundir.SOAK_JUDGED).write_text("".join(line + "\n" for line in lines))


def test_windows_that_do_not_cover_every_record_once_send_the_soak_to_the_whole(tmp_path: Path) -> None:
    """A window's line lost, written twice, torn and joined to the next, or two windows that overlap
    (a late mark): each would miss or double records, so none makes a verdict."""
    run = _lossy(tmp_path)
    lines = _lines(run)
    assert not_from_windows(run) is None
    _rewrite(run, [lines[0], *lines[2:]])
    assert not_from_windows(run) == "producer p0's windows do not cover its records once each (a window from 35)"
    _rewrite(run, [lines[0], lines[1], lines[1], *lines[2:]])
    assert not_from_windows(run) == "producer p0's windows do not cover its records once each (a window from 20)"
    _rewrite(run, [lines[0], lines[1][:40] + lines[1], *lines[2:]])
    assert not_from_windows(run) == f"line 2 of {rundir.SOAK}/{rundir.SOAK_JUDGED} cannot be read"
    _rewrite(run, lines[:-1])
    assert not_from_windows(run) == "producer p0's windows end at record 60: the rest was judged by none"
    old = [json.dumps({k: v for k, v in json.loads(line).items() if k != "bounds"}) for line in lines]
    _rewrite(run, old)
    assert not_from_windows(run) == "window 1 does not say which records it judged"


def test_a_damaged_ledger_row_is_counted_once_by_the_window_whose_rows_hold_it(tmp_path: Path) -> None:
    """Rows are checked before they are clipped to a window's range, each by the window whose span
    of rows (its start to the next window's) holds it: a garbage row is seen whatever its numbers."""
    run = _lossy(tmp_path)
    acks = run / LEDGERS / "producer-p0.acks"
    rows = np.fromfile(acks, dtype=PRODUCER_EVENT)
    bad = rows[:1].copy()
    bad["seq"], bad["seq_end"] = 50, 40  # a reversed range: no window's range holds it
    rows = np.concatenate([rows[:30], bad, rows[30:]])
    rows.tofile(acks)
    events = np.fromfile(run / LEDGERS / "producer-p0.events", dtype=PRODUCER_EVENT)
    cut = 30  # the windows' rows: [0, 31) and [31, end) of .acks, all of .events in the first
    spans = [
        Bound(0, 20, 0, 0, len(events), cut + 1),
        Bound(20, None, len(events), cut + 1),
    ]
    found = [judge_window(run, {"p0": b}, [run / DRAIN / rundir.DRAIN_LOG]).invalid_rows for b in spans]
    assert found == [1, 0]
    whole = reconcile(run)
    assert not whole.conclusive and "1 ledger rows" in whole.trust.reasons[0]
