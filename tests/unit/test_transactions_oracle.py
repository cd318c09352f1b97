"""The transactional oracle on synthetic runs: each transaction's ending counted, and exactly the
injected aborted reads, lost committed writes and torn transactions reported; aborted records never
counted as loss."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.oracle import reconcile
from chaos.oracle.synthetic_txn import Ending, SyntheticTxn, expected_transactions, write_transactions


@st.composite
def transactions(draw: st.DrawFn) -> SyntheticTxn:
    size = draw(st.integers(min_value=1, max_value=12))
    endings: list[Ending] = ["committed", "aborted", "unknown", "abandoned"]
    ending = draw(st.sampled_from(endings))
    dropped = ending in ("aborted", "abandoned") and draw(st.booleans())
    # None: what a correct Kafka shows; a number: an injected anomaly (or, for unknown, either answer)
    visible = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=size))) if not dropped else None
    return SyntheticTxn(size, ending, visible, dropped)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(transactions(), max_size=12))
def test_the_oracle_reports_exactly_the_injected_transactional_anomalies(txns: list[SyntheticTxn]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write_transactions(txns, run)
        v = reconcile(run)
        want = expected_transactions(txns)
        assert v.conclusive, v.trust
        assert v.transaction_figures.model_dump() == want["transactions"]
        for name, n in want["anomalies"].items():
            assert v.anomalies[name] == n, (name, v.examples.get(name))
        assert v.counts.aborted == want["aborted"]
        # Aborted records absent from the log, and committed ones a read_committed reader lacks, are
        # not broker, producer or consumer loss: the read_uncommitted log still has every sent one.
        assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}, (v.counts, v.examples)
        assert v.anomalies["poll_skips"] == 0 and v.anomalies["nonmonotonic_polls"] == 0


def test_a_clean_history_with_every_ending(tmp_path: Path) -> None:
    txns = [SyntheticTxn(5, "committed"), SyntheticTxn(4, "aborted"), SyntheticTxn(3, "unknown", 3)]
    txns += [SyntheticTxn(2, "abandoned"), SyntheticTxn(6, "aborted", dropped=True)]
    write_transactions(txns, tmp_path)
    v = reconcile(tmp_path)
    assert v.conclusive, v.trust
    assert (v.transaction_figures.committed, v.transaction_figures.aborted, v.transaction_figures.unknown) == (1, 2, 1)
    assert v.transaction_figures.aborted_records == 12 and v.transaction_figures.aborted_processed == 6
    assert v.counts.aborted == 6 and v.counts.in_log == 14
    assert all(v.anomalies[k] == 0 for k in ("aborted_read", "lost_committed_write", "torn_transaction"))


def test_a_committed_transaction_half_visible_is_torn_and_its_missing_half_lost(tmp_path: Path) -> None:
    write_transactions([SyntheticTxn(10, "committed", visible=4), SyntheticTxn(3, "aborted", visible=1)], tmp_path)
    v = reconcile(tmp_path)
    assert v.anomalies["torn_transaction"] == 2
    assert v.anomalies["lost_committed_write"] == 6 and v.anomalies["aborted_read"] == 1
    assert v.examples["torn_transaction"][0] == {
        "producer": "p0",
        "seq": 0,
        "partition": None,
        "offset": None,
        "records": 10,
        "visible": 4,
    }
    assert v.examples["aborted_read"][0]["seq"] == 10


def test_a_missing_read_committed_view_makes_a_transactional_verdict_unsure(tmp_path: Path) -> None:
    write_transactions([SyntheticTxn(5, "committed")], tmp_path)
    (tmp_path / "drain" / "committed.bin").write_bytes(b"")
    v = reconcile(tmp_path)
    assert not v.conclusive
    assert any("committed.bin holds 0 records" in r for r in v.trust.reasons), v.trust


def test_skipped_offsets_not_confirmed_as_markers_make_the_verdict_unsure(tmp_path: Path) -> None:
    import json

    write_transactions([SyntheticTxn(5, "committed"), SyntheticTxn(3, "aborted")], tmp_path)
    meta_path = tmp_path / "drain" / "drain.json"
    meta = json.loads(meta_path.read_text())
    meta["markers_verified"] = False
    meta_path.write_text(json.dumps(meta))
    v = reconcile(tmp_path)
    assert not v.conclusive
    assert any("did not confirm as transaction markers" in r for r in v.trust.reasons), v.trust


def test_verify_markers_accepts_control_records_and_names_the_rest(tmp_path: Path) -> None:
    import json

    from chaos.workloads.coverage import verify_markers

    drain = tmp_path / "drain"
    drain.mkdir()
    skipped = {"0": [[4, 6], [9, 10]], "1": [[2, 3]]}
    meta = {"complete": True, "incomplete": None, "markers": {"0": 3, "1": 1}, "skipped": skipped}
    (drain / "drain.json").write_text(json.dumps(meta))
    verify_markers(tmp_path, lambda p: {4, 5, 9} if p == 0 else {2})
    assert json.loads((drain / "drain.json").read_text())["markers_verified"] is True
    verify_markers(tmp_path, lambda p: {4, 5} if p == 0 else None)
    out = json.loads((drain / "drain.json").read_text())
    assert out["markers_verified"] is False and not out["complete"]
    assert "{'0': [9]}" in out["incomplete"] and out["markers_unverified_partitions"] == ["1"]
