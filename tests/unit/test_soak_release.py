"""A soak that releases its judged windows' ledger rows: the verdict is still the whole run's
reconcile of what windows judge, and where a window was judged unsure it is inconclusive, never a
whole reconcile of what is left of the ledgers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path

import numpy as np

from chaos import rundir
from chaos.experiments.soak_judge import SoakJudge
from chaos.experiments.soak_judging import release_rows
from chaos.oracle import reconcile
from chaos.oracle.window import Bound, WindowFates, judge_window
from chaos.oracle.windows_verdict import not_from_windows, windows_verdict
from chaos.rundir import LEDGERS
from chaos.workloads.ledger import PRODUCER_EVENT
from chaos.workloads.released import released_all
from chaos.workloads.totals import next_seq, totals
from tests.unit.test_soak_judge import FATES, Soak, _whole

CUTS = [25, 50, 70]


def _run(soak: Soak, judge: SoakJudge) -> list[dict[str, object]]:
    """Three windows and the rest, each read by the tail, then judged at the end."""
    judge.start()
    for k, cut in enumerate(CUTS, start=1):
        soak.grow(cut)
        soak.read(soak.tail.segment, CUTS[k - 2] if k > 1 else 0, cut)
        judge.mark(k, end=100.0 * k)
    soak.grow(len(FATES))
    soak.read(soak.tail.segment, CUTS[-1], len(FATES))
    soak.tail.caught_up_at = 10_000.0
    judge.finish(timeout=1)
    for path in (soak.run / LEDGERS).glob("consumer-*"):  # the synthetic run's consumer: windows leave it out
        path.unlink()
    out = soak.run / rundir.SOAK / rundir.SOAK_JUDGED
    return [json.loads(t) for t in out.read_text().splitlines()]


def _releasing(soak: Soak, judge: partial[WindowFates] | None = None) -> SoakJudge:
    out = soak.run / rundir.SOAK / rundir.SOAK_JUDGED
    led = soak.run / LEDGERS
    return SoakJudge(
        led,
        soak.tail,
        judge or partial(judge_window, soak.run),
        10.0,
        out,
        clock=lambda: 1000.0,
        every=3600,
        release=partial(release_rows, led),
    )


def test_released_windows_sum_to_the_whole_runs_figures_and_a_reconcile_gives_them_again(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    lines = _run(soak, _releasing(soak))
    gone = released_all(soak.run / LEDGERS)
    # every window but the last released its rows, up to where the next window's begin
    assert gone["producer-p0.events"].rows == lines[2]["rows"]["p0"][0]  # type: ignore[index]
    assert gone["producer-p0.acks"].rows == lines[2]["rows"]["p0"][1]  # type: ignore[index]
    assert lines[-1]["rows"] == {"p0": [None, None]}
    # a reader starts after them; the totals and the next sequence number count them still
    events = np.concatenate(list(read_events(soak.run)))
    assert len(events) < len(soak.events)
    for path in (soak.whole / LEDGERS).glob("consumer-*"):
        path.unlink()
    assert totals(soak.run) == totals(soak.whole) and next_seq(soak.run, "p0") == next_seq(soak.whole, "p0")
    whole = _whole(soak.whole)
    assert not_from_windows(soak.run) is None
    summed = windows_verdict(soak.run)
    assert summed.conclusive and summed.counts.sent == whole["sent"] and summed.figures.broker == whole["lost_broker"]
    assert summed.counts.in_log == whole["in_log"] and summed.figures.producer == whole["lost_producer"]
    # its examples are the latest windows' (the topic's retention deletes the first ones' records
    # before Kafka's segment dump could look for them)
    shown = [e["seq"] for line in reversed(lines) for e in line.get("examples", {}).get("broker", [])]  # type: ignore[attr-defined]
    assert shown and [e["seq"] for e in summed.examples["broker"]] == shown[:5]
    # the run directory has a drain (the synthetic history's), but its ledgers are released: the
    # reconcile is the windows', not a whole one of what is left
    again = reconcile(soak.run)
    assert again.details.judged_in == "windows" and again.counts == summed.counts


def read_events(run: Path) -> Iterable[np.ndarray]:
    from chaos.workloads.ledger import read_records

    return read_records(run / LEDGERS / "producer-p0.events", PRODUCER_EVENT)


def test_a_window_judged_unsure_after_rows_were_released_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    calls: list[int] = []

    def unsure_third(bounds: Mapping[str, Bound], segments: Iterable[Path]) -> WindowFates:
        calls.append(1)
        if len(calls) == 3:
            soak.tail.problem = "offsets 40 to 52 of partition 0 were skipped"
        fates = judge_window(soak.run, bounds, segments)
        return fates

    lines = _run(soak, _releasing(soak, partial(unsure_third)))
    assert lines[2]["unsure"] and released_all(soak.run / LEDGERS)
    v = reconcile(soak.run)  # a whole reconcile of what is left would state false figures
    assert not v.conclusive and v.details.judged_in == "windows"
    assert not v.trust.drain_complete and not v.details.drain_complete  # the tail reader said it was not
    assert any("released" in r and "--keep-ledgers" in r for r in v.trust.reasons), v.trust.reasons


def test_a_soak_that_keeps_its_ledgers_releases_nothing(tmp_path: Path) -> None:
    soak = Soak(tmp_path, FATES)
    out = soak.run / rundir.SOAK / rundir.SOAK_JUDGED
    judge = SoakJudge(soak.run / LEDGERS, soak.tail, partial(judge_window, soak.run), 10.0, out, clock=lambda: 1000.0)
    _run(soak, judge)
    assert released_all(soak.run / LEDGERS) == {}
    assert (soak.run / LEDGERS / "producer-p0.events").read_bytes() == soak.events.tobytes()
