"""The oracle's memory-saving paths give the verdict the plain ones gave: sets packed in place,
sent held as its runs, partitions in the narrowest dtype."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.oracle import reconcile
from chaos.oracle.consumers import _partitions
from chaos.oracle.keys import FEW_RANGES, SEQ_BITS, Members, _bitmaps, member, runs, unique
from chaos.oracle.synthetic import Fate, History, SyntheticProducer, write, write_large
from chaos.rundir import LEDGERS
from chaos.workloads.ledger import PRODUCER_EVENT, Kind


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.integers(1, 9))
def test_unique_in_place_packs_across_chunk_edges(values: list[int], chunk: int) -> None:
    """Duplicates that straddle a chunk's edge are dropped once, and nothing else is."""
    a = np.array(values, dtype=np.int64)
    assert unique(a.copy(), in_place=True, chunk=chunk).tolist() == sorted(set(values))


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, 200), max_size=80), st.integers(1, 9))
def test_runs_give_back_every_key(values: set[int], chunk: int) -> None:
    a = np.array(sorted(values), dtype=np.int64)
    found = runs(a, chunk=chunk)
    assert found is not None
    assert found.materialise(chunk=chunk).tolist() == sorted(values)


def test_runs_give_up_on_a_scattered_set() -> None:
    assert runs(np.arange(0, 4 * FEW_RANGES, 2, dtype=np.int64)) is None


def test_partitions_across_dtype_boundaries() -> None:
    parts = np.array([0, 255, 256, 65535, 65536, 3], dtype=np.int64)
    where = (parts << SEQ_BITS) | np.arange(len(parts), dtype=np.int64)
    assert _partitions(where, chunk=2).tolist() == parts.tolist()
    assert _partitions(where[:2]).dtype == np.uint8


def test_a_large_run_on_many_partitions_loses_exactly_what_it_lost(tmp_path: Path) -> None:
    """300 partitions (past uint8) and three producers: every 7th record of each is broker loss,
    the rest is logged and processed once; no record more or less is lost."""
    per, producers = 10_007, 3
    write_large(tmp_path, per * producers, producers=producers, partitions=300, loss_every=7)
    v = reconcile(tmp_path)
    lost = producers * -(-per // 7)
    assert v.counts.sent == per * producers
    assert (v.loss.producer, v.loss.broker, v.loss.consumer) == (0, lost, 0)
    assert v.counts.in_log == v.counts.processed == per * producers - lost
    assert v.anomalies["poll_skips"] == v.anomalies["nonmonotonic_polls"] == 0
    assert v.anomalies["phantom"] == v.anomalies["duplicates_in_log"] == 0


def test_an_ack_whose_intent_a_kill_tore_away_is_still_sent(tmp_path: Path) -> None:
    """Acks (at an offset, and acks=0's without one) of records whose intent rows are gone prove
    their sends: they are found against the intents' ranges and added to what was sent."""
    fates = [Fate.OK] * 20 + [Fate.UNCONFIRMED] * 3 + [Fate.OK] * 7
    write(History("r1", [SyntheticProducer("p0", "async", fates)]), tmp_path)
    events_path = tmp_path / LEDGERS / "producer-p0.events"
    events = np.fromfile(events_path, dtype=PRODUCER_EVENT)
    intents = events[events["kind"] == Kind.INTENT]
    assert len(intents) == 1 and int(intents[0]["seq_end"]) == 30
    intents["seq_end"] = 10  # the intents of 10..29 torn away: only acks say they were sent
    np.concatenate([intents, events[events["kind"] != Kind.INTENT]]).tofile(events_path)
    v = reconcile(tmp_path)
    assert v.counts.sent == 30 and v.counts.in_log == 27
    assert v.loss.broker == 3  # the unconfirmed ones, sent though their intents are gone


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3000)), unique=True, min_size=1, max_size=400),
    st.lists(st.tuples(st.integers(-1, 4), st.integers(-5, 3100)), max_size=400),
)
def test_membership_by_bitmap_is_membership_by_binary_search(
    hay: list[tuple[int, int]], needles: list[tuple[int, int]]
) -> None:
    """Dense groups (a producer's sequence numbers) are looked up in bitmaps, sparse ones searched:
    both answer as ``np.isin`` does, whatever the keys, including keys of other groups and -1."""
    b = np.unique(np.array([(h << SEQ_BITS) | v for h, v in hay], dtype=np.int64))
    a = np.array([(h << SEQ_BITS) | v if h >= 0 else -1 for h, v in needles], dtype=np.int64)
    want = np.isin(a, b)
    with patch("chaos.oracle.keys.BITMAP_FROM", 0), patch("chaos.oracle.keys.DENSE", 10**9):
        assert (member(a, b) == want).all()  # every group dense: bitmaps
        with patch("chaos.oracle.keys._Bitmaps.WINDOW", 64):
            assert (member(a, b, chunk=7) == want).all()  # bitmaps built across many windows
    assert (member(a, b) == want).all()  # few needles: binary search


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([0, 5, 1_000_003, (1 << SEQ_BITS) - 4000]),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3000)), unique=True, min_size=1, max_size=300),
    st.lists(st.tuples(st.integers(-1, 7), st.integers(-3100, 6100)), max_size=300),
    st.booleans(),
)
def test_bitmaps_of_groups_apart_answer_as_a_search(
    band: int, hay: list[tuple[int, int]], needles: list[tuple[int, int]], narrow: bool
) -> None:
    """Every group is a slot of the same width from the lowest first value of any group, and a
    key's bit is arithmetic on the key alone: groups that are not consecutive, that start late in
    their slot, and values just below a group's first (which borrow from the group: their offset
    wraps past 2^40) or just past the widest group's last, of every group in and around the slots'
    range, and -1, are found exactly where ``np.isin`` finds them, chunk by chunk and window by
    window."""
    mask = (1 << SEQ_BITS) - 1
    b = np.unique(np.array([(h << SEQ_BITS) | (band + v) for h, v in hay], dtype=np.int64))
    a = np.array([(h << SEQ_BITS) | ((band + v) & mask) if h >= 0 else -1 for h, v in needles], dtype=np.int64)
    a = np.concatenate([a, b - 1, b + 1, b])
    want = np.isin(a, b)
    with patch("chaos.oracle.keys.BITMAP_FROM", 0), patch("chaos.oracle.keys.DENSE", 1 << 20):
        assert _bitmaps(b) is not None
        with patch("chaos.oracle.keys._Bitmaps.WINDOW", 64 if narrow else 1 << 23):
            assert (Members(b).of(a, chunk=5 if narrow else 1 << 21) == want).all()


def test_a_sparse_group_keeps_the_binary_search() -> None:
    b = np.array([0, 1, 2, 1 << 30], dtype=np.int64)
    with patch("chaos.oracle.keys.BITMAP_FROM", 0):
        assert member(np.array([1, 3, 1 << 30], dtype=np.int64), b).tolist() == [True, False, True]
        assert _bitmaps(b) is None and _bitmaps(b[:3]) is not None
    # A slot as wide as the values above its first: a value below the first would wrap into it.
    with patch("chaos.oracle.keys.DENSE", 1 << 50):
        assert _bitmaps(np.array([3, (1 << SEQ_BITS) - 1], dtype=np.int64)) is None
