"""The oracle reports exactly the loss and anomalies injected into a history: no more, no fewer."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import UsageError
from chaos.oracle import reconcile, reconcile_and_write
from chaos.oracle.synthetic import NEEDS_SUCCESSOR, Fate, History, SyntheticProducer, expected, write

GOES_ON = ("fire_and_forget", "async")
WAITS = ("sync", "outbox")


@st.composite
def producers(draw: st.DrawFn, index: int) -> SyntheticProducer:
    mode = draw(st.sampled_from(GOES_ON + WAITS))
    allowed: list[Fate] = [f for f in Fate if f not in NEEDS_SUCCESSOR]
    if mode not in GOES_ON:
        allowed.remove(Fate.PRODUCER_LOST)  # a waiting application never "went on"
    if mode != "fire_and_forget":
        allowed.remove(Fate.SWALLOWED)  # only fire-and-forget ignores errors
    fates = draw(st.lists(st.sampled_from(allowed), max_size=120))
    # Reorder or overwrite only where the partner (next record of the same partition) is OK.
    flags = draw(st.lists(st.sampled_from([None, *NEEDS_SUCCESSOR]), min_size=len(fates), max_size=len(fates)))
    fates = _place_successors(fates, flags, partitions=3)
    return SyntheticProducer(id=f"p{index}", mode=mode, fates=fates)


def _place_successors(fates: list[Fate], flags: list[Fate | None], partitions: int) -> list[Fate]:
    fates = list(fates)
    used: set[int] = set()
    for seq in range(len(fates)):
        nxt = seq + partitions
        flag = flags[seq]
        if (
            flag is not None
            and nxt < len(fates)
            and fates[seq] is Fate.OK
            and fates[nxt] is Fate.OK
            and seq not in used
            and nxt not in used
        ):
            # the successor in the partition must be the very next in-log record of that partition
            fates[seq] = flag
            used.update({seq, nxt})
    return fates


@st.composite
def histories(draw: st.DrawFn) -> History:
    n = draw(st.integers(min_value=0, max_value=3))
    return History(
        run_id="r1",
        producers=[draw(producers(i)) for i in range(n)],
        partitions=3,
        corrupted=draw(st.integers(min_value=0, max_value=5)),
        phantom=draw(st.integers(min_value=0, max_value=5)) if n else 0,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_oracle_reports_exactly_what_was_injected(history: History) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        write(history, run)
        v = reconcile(run)
        want = expected(history)
        assert v.conclusive, v.trust
        assert v.counts.model_dump() == want["counts"]
        assert v.loss.model_dump() == want["loss"]
        assert v.causes == want["causes"]
        assert v.anomalies == want["anomalies"]
        # every record sent ends in exactly one place
        c, loss = v.counts.model_dump(), v.figures.model_dump()
        assert c["sent"] == c["in_log"] + c["damaged"] + c["failed"] + c["unknown"] + loss["producer"] + loss["broker"]
        # and when each lost or unknown record was sent adds up to its count (a soak's windows rely on it)
        assert sum(n for _, n in v.unknown_sent) == c["unknown"]
        assert sum(n for _, n in v.lost_sent.get("broker", [])) == loss["broker"]
        assert sum(n for _, n in v.lost_sent.get("producer", [])) == loss["producer"]


def test_clean_history_is_zero_everywhere(tmp_path: Path) -> None:
    history = History("r1", [SyntheticProducer("p0", "async", [Fate.OK] * 500)])
    write(history, tmp_path)
    v = reconcile(tmp_path)
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert set(v.anomalies.values()) == {0}
    assert v.counts.sent == v.counts.acked == v.counts.in_log == v.counts.processed == 500


def test_examples_name_producer_seq_partition_offset(tmp_path: Path) -> None:
    fates = [Fate.OK] * 10 + [Fate.BROKER_LOST] + [Fate.OK] * 5 + [Fate.CONSUMER_LOST]
    write(History("r1", [SyntheticProducer("p0", "async", fates)]), tmp_path)
    v = reconcile(tmp_path)
    assert v.examples["broker"] == [
        {"producer": "p0", "seq": 10, "partition": 1, "offset": 10**9 + 10, "cause": "beyond_log_end"}
    ]
    consumer = v.examples["consumer"][0]
    assert (consumer["producer"], consumer["seq"], consumer["partition"]) == ("p0", 16, 1)


def test_torn_last_records_are_ignored(tmp_path: Path) -> None:
    write(History("r1", [SyntheticProducer("p0", "async", [Fate.OK] * 50)]), tmp_path)
    for name in (
        "ledgers/producer-p0.acks",
        "ledgers/producer-p0.events",
        "drain/log.bin",
        "ledgers/consumer-g-0.processed",
    ):
        with (tmp_path / name).open("ab") as f:
            f.write(b"\x03\x01\x02")  # a writer killed mid-record
    v = reconcile(tmp_path)
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts.in_log == 50


def test_same_files_same_answer(tmp_path: Path) -> None:
    write(
        History(
            "r1",
            [SyntheticProducer("p0", "fire_and_forget", [Fate.OK, Fate.PRODUCER_LOST] * 30)],
            corrupted=2,
            phantom=3,
        ),
        tmp_path,
    )
    first = reconcile_and_write(tmp_path).model_dump(mode="json")
    assert json.loads((tmp_path / "verdict.json").read_text()) == first
    assert reconcile(tmp_path).model_dump(mode="json") == first


def test_expectations_are_judged(tmp_path: Path) -> None:
    write(History("r1", [SyntheticProducer("p0", "async", [Fate.OK, Fate.BROKER_LOST])]), tmp_path)
    (tmp_path / "expectations.json").write_text(json.dumps({"broker_loss": ">0", "consumer_loss": 0, "sent": 3}))
    v = reconcile(tmp_path)
    assert [(e.name, e.passed, e.actual) for e in v.expectations] == [
        ("broker_loss > 0", True, 1),
        ("consumer_loss == 0", True, 0),
        ("sent == 3", False, 2),
    ]
    assert not v.passed


def test_a_run_without_a_drain_cannot_be_reconciled(tmp_path: Path) -> None:
    (tmp_path / "ledgers").mkdir()
    with pytest.raises(UsageError, match="no completed drain"):
        reconcile(tmp_path)
    with pytest.raises(UsageError, match="not a run directory"):
        reconcile(tmp_path / "ledgers")
