"""The disk a soak says it needs before it starts, and a soak refused when the disk cannot hold it:
its records times their ledger rows and replicas, or, where it releases what its windows judged,
the records in flight and its topic's retention, whatever its length."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chaos.errors import UsageError
from chaos.experiments.loading import load_experiment
from chaos.experiments.soak_disk import ASSUMED_RATE, check_disk, disk_need
from chaos.workloads.ledger import PROCESSED
from tests.unit.test_soak import B2_LIKE, _file


def test_the_disk_a_soak_needs_is_its_records_times_their_rows_and_replicas(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path), soak={"duration": 1000, "every": 30})
    need = disk_need(exp)
    records = int(500 * 1000 * 1.1)
    assert need.records == records and not need.assumed
    # and the tail reader's copy of the windows waiting to settle: the client's delivery timeout
    # (kafka-python's 120 s, as the judge counts it) + three periods + 35 s
    tail = 500 * (120 + 3 * 30 + 35) * 25
    assert need.ledger_bytes == records * (3 * 37 + 25 + PROCESSED.itemsize) + tail
    assert need.broker_bytes == records * (100 + 120) * 3
    no_rate = load_experiment(_file(tmp_path, B2_LIKE.replace("rate: 500, ", "")), soak={"duration": 60})
    assert disk_need(no_rate).rate == ASSUMED_RATE and disk_need(no_rate).assumed
    # without a consumer, the judged windows' rows are released: the ledgers hold the windows not
    # yet judged (the tail's span) and the last one judged, whatever the soak's length
    alone = B2_LIKE.replace("consumer: {strategy: after_process}\n", "")
    released = disk_need(load_experiment(_file(tmp_path, alone), soak={"duration": 1000, "every": 30}))
    held = 500 * (120 + 3 * 30 + 35 + 30)
    assert released.released and released.ledger_bytes == held * 3 * 37 + tail
    assert "at most at once (judged rows released)" in released.sentence()
    kept = disk_need(load_experiment(_file(tmp_path, alone), soak={"duration": 1000, "every": 30, "ledgers": "keep"}))
    assert not kept.released and kept.ledger_bytes == records * (3 * 37 + 25) + tail  # and the drain, if it falls back
    longer = disk_need(load_experiment(_file(tmp_path, alone), soak={"duration": 100_000, "every": 30}))
    assert longer.ledger_bytes == released.ledger_bytes  # bounded
    # the topic's retention bounds the brokers' logs as well: twice the records in flight (10 min at
    # least), a segment's roll, a retention check and a deleted file's delay
    retention = 2 * (120 + 3 * 30 + 35)
    assert longer.retained and longer.broker_bytes == 500 * (retention + 60 + 300 + 60) * (100 + 120) * 3
    assert "of broker logs at most at once (the topic's retention)" in longer.sentence()
    assert not kept.retained and kept.broker_bytes == records * (100 + 120) * 3
    # the Java client raises a delivery timeout below linger.ms + request.timeout.ms to that sum, as
    # the judge counts it: 5 s given, 30 s held
    java = alone.replace("acks: 1}", "acks: 1, delivery.timeout.ms: 5000}").replace(
        "producer: {", "producer: {client: java, "
    )
    short = disk_need(load_experiment(_file(tmp_path, java), soak={"duration": 1000, "every": 30}))
    assert short.ledger_bytes == 500 * (30 + 3 * 30 + 35 + 30) * 3 * 37 + 500 * (30 + 3 * 30 + 35) * 25
    # a producer that never gives up: its windows never settle, nothing is released
    # (librdkafka's: the Java client and kafka-python raise a timeout of 0 to their floor)
    forever = alone.replace("acks: 1}", "acks: 1, delivery.timeout.ms: 0}")
    assert disk_need(load_experiment(_file(tmp_path, forever), soak={"duration": 1000, "every": 30})).released
    forever = forever.replace("producer: {", "producer: {client: librdkafka, ")
    assert not disk_need(load_experiment(_file(tmp_path, forever), soak={"duration": 1000, "every": 30})).released


def test_a_soak_the_disk_cannot_hold_is_refused_naming_need_and_free_space(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path), soak={"duration": 7 * 86_400, "every": 30})
    with pytest.raises(UsageError, match=r"needs [\d.]+ GiB on the disk of .* GiB is free: shorten soak.duration"):
        check_disk([exp], tmp_path, lambda: tmp_path)
    small = load_experiment(_file(tmp_path), soak={"duration": 60, "every": 30})
    assert check_disk([small], tmp_path, lambda: None).broker_bytes is None  # no engine here: its logs unsaid
    # a suite's soaks are summed: each fits alone, a thousand of them do not
    one = check_disk([small], tmp_path, lambda: tmp_path)
    free = shutil.disk_usage(tmp_path).free
    many = int(free / (one.ledger_bytes + (one.broker_bytes or 0))) + 1
    with pytest.raises(UsageError, match=f"{many} soaks need"):
        check_disk([small] * many, tmp_path, lambda: tmp_path)


def test_what_a_soak_holds_follows_the_judges_settling(tmp_path: Path) -> None:
    from chaos.experiments.soak_release import releases, tail_span

    alone = B2_LIKE.replace("consumer: {strategy: after_process}\n", "")
    # the judge settles by the window: 900 s windows hold 900 s periods of records, not 30 s ones
    long_windows = load_experiment(_file(tmp_path, alone), soak={"duration": 7200, "every": 30, "window": 900})
    assert tail_span(long_windows) == 120 + 3 * 900 + 35
    # librdkafka's message timeout of 0, however written, never gives up: nothing released
    rdkafka = alone.replace("producer: {", "producer: {client: librdkafka, ").replace(
        "acks: 1}", "acks: 1, delivery.timeout.ms: ' 0'}"
    )
    assert not releases(load_experiment(_file(tmp_path, rdkafka), soak={"duration": 600, "every": 30}))
