"""The oracle's passes over its largest ledgers: read a chunk at a time into one reused buffer (in
chunks of a few rows, every buffer reused many times over, a history's verdict is the verdict read
whole), and the first acks of some keys found without a position or a time of any other row."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.oracle import reconcile
from chaos.oracle.keys import SEQ_BITS
from chaos.oracle.producers import ProducerSide, load_producers
from chaos.oracle.synthetic import History, write
from chaos.workloads.ledger import PRODUCER_EVENT, read_records
from tests.unit.test_oracle import histories

#: Every module of the oracle that reads a ledger with ``reuse``.
READERS = ("producers", "log", "consumers", "rewrites", "rebalances")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.integers(1, 7))
def test_a_verdict_read_in_small_chunks_is_the_verdict_read_whole(history: History, chunk: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write(history, run)
        whole = reconcile(run).model_dump(mode="json")
        with ExitStack() as stack:
            for name in READERS:
                stack.enter_context(patch(f"chaos.oracle.{name}.read_records", partial(read_records, chunk=chunk)))
            chunked = reconcile(run).model_dump(mode="json")
    assert chunked == whole


def test_a_reused_buffer_holds_the_next_chunk_and_a_torn_row_is_dropped(tmp_path: Path) -> None:
    rows = np.zeros(7, dtype=PRODUCER_EVENT)
    rows["seq"] = np.arange(7)
    path = tmp_path / "p.acks"
    path.write_bytes(rows.tobytes() + b"\x01\x02")  # a torn eighth row
    seen = [chunk["seq"].tolist() for chunk in read_records(path, PRODUCER_EVENT, chunk=3, start=1, reuse=True)]
    assert seen == [[1, 2, 3], [4, 5, 6]]
    kept = list(read_records(path, PRODUCER_EVENT, chunk=3, reuse=True))
    assert kept[0]["seq"].tolist() == [6, 4, 5]  # one buffer: the first chunk now begins with the last row
    assert [c["seq"].tolist() for c in read_records(path, PRODUCER_EVENT, chunk=3)] == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize("reuse", [False, True])
def test_a_ledger_cut_and_appended_to_while_read_yields_no_row_out_of_step(tmp_path: Path, reuse: bool) -> None:
    """A restarted writer cuts a torn row and appends whole ones: a reader that met the cut stops at
    the last whole row, never reading on from the middle of one."""
    size = PRODUCER_EVENT.itemsize
    rows = np.zeros(1000, dtype=PRODUCER_EVENT)
    rows["seq"] = np.arange(1000)
    path = tmp_path / "p.events"
    path.write_bytes(rows.tobytes())
    # chunks larger than the file object's own buffer, so each is read from the file as it is then
    reader = read_records(path, PRODUCER_EVENT, chunk=400, start=0, reuse=reuse)
    seen = [next(reader)["seq"].tolist()]
    with path.open("r+b") as f:  # cut to 500 rows and a half: the next chunk is short
        f.truncate(500 * size + size // 2)
    seen.append(next(reader)["seq"].tolist())
    with path.open("ab") as f:  # then whole rows after the half, as a writer that did not cut it
        f.write(rows[501:].tobytes())
    seen += [chunk["seq"].tolist() for chunk in reader]
    assert seen == [list(range(400)), list(range(400, 500))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
def test_the_first_acks_of_some_keys_are_their_first_among_every_ack(history: History, data: st.DataObject) -> None:
    """Keys of some producers only (the others' ledgers are not read), keys never acked and keys of
    no producer of the run: each gets its first ack in ledger order, or -1."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write(history, run)
        side = ProducerSide(run, load_producers(run))
        first: dict[int, tuple[int, int]] = {}
        for k, pos, t in side.acks():
            for key, at, ms in zip(k.tolist(), pos.tolist(), t.tolist(), strict=True):
                first.setdefault(key, (at, ms))
        candidates = sorted({*first, *side.sent.tolist(), 5 << SEQ_BITS})
        wanted = np.array(sorted(data.draw(st.sets(st.sampled_from(candidates)))), dtype=np.int64)
        pos, t = side.first_acks(wanted)
    assert list(zip(pos.tolist(), t.tolist(), strict=True)) == [first.get(k, (-1, -1)) for k in wanted.tolist()]
