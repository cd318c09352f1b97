"""The oracle reads its largest ledgers a chunk at a time into one reused buffer: read in chunks of
a few rows (every buffer reused many times over), a history's verdict is the verdict read whole."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from unittest.mock import patch

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.oracle import reconcile
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
