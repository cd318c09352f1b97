"""The drained log's columns come out in position order however its rows were written: each row
placed straight into its partition's slice (no reordering of the rows themselves), partitions past
16 bits and chunk edges included."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.oracle.keys import SEQ_BITS
from chaos.oracle.log import Log
from chaos.rundir import DRAIN, DRAIN_LOG
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import LOG_RECORD, read_records

TAGS = {11: 0, 22: 1, 33: 2}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, 7, 300, 65535, 65536, 70001]),
            st.integers(0, 40),
            st.sampled_from([11, 22, 33, 44]),
            st.integers(-1, 50),
            st.sampled_from([Status.VALID, Status.VALID, Status.CORRUPTED, Status.FOREIGN]),
        ),
        max_size=120,
    ),
    st.integers(1, 9),
)
def test_columns_are_the_rows_in_position_order(rows: list[tuple[int, int, int, int, int]], chunk: int) -> None:
    """Positions and keys are the file's rows stably sorted by position (a repeated position keeps
    the file's order), whatever the order they were written in and however the file is chunked."""
    log = np.zeros(len(rows), dtype=LOG_RECORD)
    for i, (part, off, tag, seq, status) in enumerate(rows):
        log[i] = (part, off, tag, seq, status)
    with TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        (run_dir / DRAIN).mkdir()
        log.tofile(run_dir / DRAIN / DRAIN_LOG)
        with patch("chaos.oracle.log.read_records", partial(read_records, chunk=chunk)):
            found = Log(run_dir, TAGS)
    pos = (log["partition"].astype(np.int64) << SEQ_BITS) | log["offset"]
    index = np.array([TAGS.get(int(t), -1) for t in log["tag"]], dtype=np.int64)
    known = (log["status"] == Status.VALID) & (index >= 0) & (log["seq"] >= 0)
    keys = np.where(known, (index << SEQ_BITS) | log["seq"], -1)
    order = np.argsort(pos, kind="stable")
    assert found.pos.tolist() == pos[order].tolist()
    assert found.keys.tolist() == keys[order].tolist()
    assert found.corrupted.tolist() == (log["status"] == Status.CORRUPTED)[order].tolist()
    foreign = (log["status"] == Status.FOREIGN) | ((log["status"] == Status.VALID) & ~known)
    assert found.foreign.tolist() == foreign[order].tolist()
