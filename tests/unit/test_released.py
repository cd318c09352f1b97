"""A soak's judged ledger rows released: what covers a whole ledger (the totals, a restarted
producer's next sequence number) is unchanged, a reader starts after them, their blocks are freed
one release later, and a writer appending meanwhile loses nothing."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.rundir import LEDGERS, RELEASED
from chaos.workloads.ledger import PRODUCER_EVENT, Kind, read_records
from chaos.workloads.released import Released, any_released, released, released_all
from chaos.workloads.releasing import punch, release
from chaos.workloads.totals import next_seq, totals

#: A producer's ``.events`` and ``.acks`` rows, and where successive releases stop.
Case = tuple[np.ndarray, np.ndarray, list[int]]
KINDS = [Kind.INTENT, Kind.RETURNED, Kind.ACK, Kind.ERROR_SEEN, Kind.ERROR_SWALLOWED]


def _rows(kinds: list[int], widths: list[int]) -> np.ndarray:
    rows = np.zeros(len(kinds), PRODUCER_EVENT)
    rows["kind"] = kinds
    rows["seq_end"] = np.cumsum(widths)
    rows["seq"] = rows["seq_end"] - np.asarray(widths, dtype=np.uint64)
    rows["t_ms"] = np.arange(len(kinds))
    return rows


@st.composite
def ledgers(draw: st.DrawFn) -> Case:
    n = draw(st.integers(0, 60))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    widths = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    events = _rows([int(k) for k in kinds], widths)
    acks = events[events["kind"] == Kind.ACK].copy()
    stops = draw(st.lists(st.integers(0, n), max_size=4))
    return events, acks, sorted(stops)


@settings(max_examples=100, deadline=None)
@given(ledgers())
def test_releasing_rows_changes_no_total_and_no_next_sequence_number(
    case: tuple[np.ndarray, np.ndarray, list[int]],
) -> None:
    import tempfile

    events, acks, stops = case
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        led = run / LEDGERS
        led.mkdir()
        events.tofile(led / "producer-p0.events")
        acks.tofile(led / "producer-p0.acks")
        before, seq = totals(run), next_seq(run, "p0")
        for stop in stops:
            release(led, {"producer-p0.events": stop, "producer-p0.acks": min(stop, len(acks))})
            assert totals(run) == before and next_seq(run, "p0") == seq
        release(led, {})  # frees what the last call released: the figures stand
        assert totals(run) == before and next_seq(run, "p0") == seq
        last = stops[-1] if stops else 0
        read = list(read_records(led / "producer-p0.events", PRODUCER_EVENT))
        got = np.concatenate(read) if read else np.zeros(0, PRODUCER_EVENT)
        assert got.tobytes() == events[last:].tobytes()  # a reader starts after what is released
        assert any_released(led) == any(s > 0 for s in stops)  # a stop at 0 releases nothing


def test_a_release_frees_the_blocks_and_keeps_the_rest_intact(tmp_path: Path) -> None:
    led = tmp_path / LEDGERS
    led.mkdir()
    n = 200_000  # 7.4 MB of rows
    events = _rows([Kind.INTENT] * n, [1] * n)
    path = led / "producer-p0.events"
    events.tofile(path)
    size = path.stat().st_size
    release(led, {path.name: n // 2})
    assert released(path) == Released(rows=n // 2, next_seq=n // 2, sent=n // 2)
    assert path.stat().st_size == size  # a writer appends where it was
    assert path.stat().st_blocks * 512 < size * 0.6
    rest = np.fromfile(path, dtype=PRODUCER_EVENT, offset=(n // 2) * PRODUCER_EVENT.itemsize)
    assert rest.tobytes() == events[n // 2 :].tobytes()
    assert totals(tmp_path).sent == n and next_seq(tmp_path, "p0") == n


def test_a_writer_appending_while_rows_are_released_loses_nothing(tmp_path: Path) -> None:
    led = tmp_path / LEDGERS
    led.mkdir()
    path = led / "producer-p0.events"
    chunks = [_rows([Kind.INTENT] * 5_000, [1] * 5_000) for _ in range(40)]
    for k, c in enumerate(chunks):
        c["seq"] += k * 5_000
        c["seq_end"] += k * 5_000
    written = [0]
    done = threading.Event()

    def write() -> None:
        with path.open("ab", buffering=0) as f:
            for c in chunks:
                f.write(c.tobytes())
                written[0] += len(c)
                time.sleep(0.002)  # the releases interleave with the writes
        done.set()

    path.touch()
    t = threading.Thread(target=write)
    t.start()
    releases = 0
    while not done.is_set():
        release(led, {path.name: written[0] // 2})
        releases += 1
    t.join()
    assert releases > 5
    release(led, {path.name: written[0] - 1})
    release(led, {})
    assert totals(tmp_path).sent == 200_000 and next_seq(tmp_path, "p0") == 200_000
    (last,) = list(read_records(path, PRODUCER_EVENT))
    assert int(last["seq"][0]) == 199_999


def test_a_released_file_not_written_by_the_harness_is_refused_by_name(tmp_path: Path) -> None:
    led = tmp_path / LEDGERS
    led.mkdir()
    (led / RELEASED).write_text(json.dumps({"producer-p0.events": {"rows": 3}}))
    with pytest.raises(ValueError, match="does not name"):
        released_all(led)
    (led / RELEASED).write_text(json.dumps({"producer-p0.events": {**Released().as_dict(), "rows": -1}}))
    with pytest.raises(ValueError, match="other than counts"):
        released(led / "producer-p0.events")
    (led / RELEASED).write_text("[]")
    with pytest.raises(ValueError, match="not a JSON object"):
        totals(tmp_path)


def test_punching_a_missing_file_or_less_than_a_block_frees_nothing(tmp_path: Path) -> None:
    assert punch(tmp_path / "none", 1 << 20) is False
    path = tmp_path / "small"
    path.write_bytes(b"x" * 100)
    assert punch(path, 100) is True and path.read_bytes() == b"x" * 100
    big = tmp_path / "big"
    big.write_bytes(b"y" * (1 << 16))
    assert punch(big, 1 << 16) is True and big.read_bytes() == b"\0" * (1 << 16)
    assert os.stat(big).st_size == 1 << 16


def test_a_reports_rates_start_where_the_released_rows_end(tmp_path: Path) -> None:
    from chaos.reports.series import series
    from chaos.workloads.ledger import write_meta

    led = tmp_path / LEDGERS
    led.mkdir()
    n = 10_000
    events = _rows([Kind.INTENT] * n, [1] * n)
    events["t_ms"] = np.arange(n) * 10  # 100 s of sends, 100 a second
    events.tofile(led / "producer-p0.events")
    write_meta(led / "producer-p0.json", {"start_ns": 1_000_000_000_000})
    assert series(tmp_path).released_s == 0 and series(tmp_path).sent[10] == 100
    release(led, {"producer-p0.events": n // 2})
    s = series(tmp_path)
    # without the windows' figures the released seconds show no rate (what is left of them is not one)
    assert s.released_s == 50 and s.sent[:50] == [0] * 50 and s.sent[50:99] == [100] * 49
    # with them, each window's records spread over its seconds: 2,000 in the first 20 s, 3,000 in the next 30
    t0 = 1_000.0
    windows = [
        {"window": 1, "start_ms": int(t0 * 1000), "end_ms": int((t0 + 20) * 1000), "sent": 2_000},
        {"window": 2, "start_ms": int((t0 + 20) * 1000), "end_ms": int((t0 + 50) * 1000), "sent": 3_000},
    ]
    (tmp_path / "soak").mkdir()
    (tmp_path / "soak" / "windows.jsonl").write_text("".join(json.dumps(w) + "\n" for w in windows))
    s = series(tmp_path)
    assert s.sent[:50] == [100] * 50 and s.sent[50:99] == [100] * 49
    release(led, {"producer-p0.events": n})  # a producer that finished before the last window: all released
    s = series(tmp_path)
    assert s.released_s == s.seconds and s.sent[:50] == [100] * 50 and not any(s.sent[50:])


def test_a_run_that_released_rows_without_judged_windows_is_not_reconciled(tmp_path: Path) -> None:
    from chaos.errors import UsageError
    from chaos.oracle import reconcile
    from chaos.workloads.releasing import begin

    (tmp_path / LEDGERS).mkdir()
    begin(
        tmp_path / LEDGERS
    )  # a releasing soak's topic has a retention: a whole reconcile would count deleted records lost
    with pytest.raises(UsageError, match="released judged ledger rows but has no judged windows: none can"):
        reconcile(tmp_path)


def test_a_producer_restarted_after_its_rows_were_released_is_told_where_to_go_on(tmp_path: Path) -> None:
    """Released rows read as zeros once freed: a driver scanning its ``.events`` for the highest
    intent (the Java one did) would start again at 0. Every producer is given the number instead."""
    import sys

    from chaos.workloads.process import WorkloadProcess
    from chaos.workloads.spec import ProducerSpec

    led = tmp_path / LEDGERS
    led.mkdir()
    n = 1_108  # a file that ends 72 bytes into a block: every intent in a freed block
    _rows([Kind.INTENT, Kind.RETURNED] * (n // 2), [100, 0] * (n // 2)).tofile(led / "producer-p0.events")
    release(led, {"producer-p0.events": n})
    release(led, {})
    assert not (np.fromfile(led / "producer-p0.events", dtype=PRODUCER_EVENT)["kind"] == Kind.INTENT).any()
    seen = tmp_path / "seen"
    script = f"import os; open({str(seen)!r}, 'w').write(os.environ['KAFKA_CHAOS_NEXT_SEQ'])"
    process = WorkloadProcess(
        ProducerSpec("p0", "t", "b:1", "r1", str(tmp_path)), command=lambda _: [sys.executable, "-c", script]
    )
    process.start()
    assert process.proc is not None and process.proc.wait(30) == 0
    assert seen.read_text() == str(n // 2 * 100) == str(next_seq(tmp_path, "p0"))


def test_a_reader_of_the_totals_holds_off_the_freeing_of_what_it_reads(tmp_path: Path) -> None:
    """Two releases while a reader is between ``released.json`` and its rows would free rows it is
    about to read (they read as zeros): the reader's lock holds the freeing off until it is done."""
    from chaos.workloads.released import reading
    from chaos.workloads.releasing import begin

    led = tmp_path / LEDGERS
    led.mkdir()
    n = 300_000
    path = led / "producer-p0.events"
    _rows([Kind.INTENT] * n, [1] * n).tofile(path)
    begin(led)
    freed = threading.Event()

    def two_releases() -> None:
        release(led, {path.name: n // 3})
        release(led, {path.name: 2 * n // 3})
        freed.set()

    with reading(led):
        before = released(path)
        t = threading.Thread(target=two_releases)
        t.start()
        time.sleep(0.3)
        assert not freed.is_set()  # released.json moved on, the blocks wait for the reader
        rows = np.concatenate(list(read_records(path, PRODUCER_EVENT, start=before.rows)))
        assert (rows["kind"] == Kind.INTENT).all() and len(rows) == n
    t.join(10)
    assert freed.is_set() and totals(tmp_path).sent == n
    assert path.stat().st_blocks * 512 < path.stat().st_size * 0.5
