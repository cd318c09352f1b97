"""The workloads' loops against fake clients, without a cluster: a member stuck in a rebalance gets a
new client, a poll whose commit failed is not processed, the send loop keeps its rate in bursts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from chaos.workloads.interfaces import (
    Batches,
    ConsumedRecord,
    DeliveryReport,
    GroupMetadata,
    Headers,
    Membership,
    SendFuture,
)
from chaos.workloads.spec import ConsumerSpec, ProducerSpec


class _Consumer:
    """A consumer client of which a test calls only some methods (the others fail the test)."""

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        raise AssertionError("not called here")

    def subscribe(self, topics: list[str]) -> None:
        raise AssertionError("not called here")

    def poll(self, timeout_ms: int) -> Batches:
        raise AssertionError("not called here")

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        raise AssertionError("not called here")

    def assignment(self) -> set[TopicPartition]:
        return set()

    def membership(self) -> Membership:
        raise AssertionError("not called here")

    def group_metadata(self) -> GroupMetadata:
        raise AssertionError("not called here")

    def rewind(self) -> None:
        raise AssertionError("not called here")

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        raise AssertionError("not called here")


class _StuckClient(_Consumer):
    """A kafka-python consumer whose group membership never settles (it still fetches)."""

    def __init__(self, state: object) -> None:
        self.state = state
        self.closed = False

    def membership(self) -> Membership:
        from types import SimpleNamespace

        membership: Membership = SimpleNamespace(state=self.state, generation_id=2)
        return membership

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        self.closed = True


def test_a_member_stuck_in_a_rebalance_gets_a_new_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka.coordinator.base import MemberState

    from chaos.workloads.member import ConsumerWorkload

    spec = ConsumerSpec(
        id="c0", group="g", topic="t", bootstrap_servers="127.0.0.1:1", run_id="r1", run_dir=str(tmp_path)
    )
    workload = ConsumerWorkload(spec)
    assert workload._unsettled_limit_s == 310  # max.poll.interval.ms + session.timeout.ms, defaults
    stuck, fresh = _StuckClient(MemberState.REBALANCING), _StuckClient(MemberState.STABLE)
    workload.consumer = stuck
    monkeypatch.setattr(workload, "_subscribed_client", lambda: fresh)
    workload.buffer = [(0, 1, 2, 3, 0)] * 4
    workload._unsettled_limit_s = 0.05
    workload._watch_membership()  # first seen unsettled
    assert workload.consumer is stuck
    workload._watch_membership()  # not long enough yet
    assert workload.consumer is stuck
    import time

    time.sleep(0.06)
    workload._watch_membership()
    assert workload.consumer is fresh and stuck.closed
    assert workload.epoch_marks == [4]  # what the new client reads is a new epoch, after the buffer
    workload._watch_membership()  # settled: nothing more happens
    assert workload.consumer is fresh
    workload.ledger.close()


class _RebalancingClient(_Consumer):
    """A kafka-python consumer whose commits fail: its group is rebalancing."""

    def __init__(self) -> None:
        self.commits = 0

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        from kafka.errors import RebalanceInProgressError

        self.commits += 1
        raise RebalanceInProgressError("the group is rebalancing")


def test_a_poll_whose_commit_failed_is_not_processed_before_process(tmp_path: Path) -> None:
    """Commit, then process: a member that processed a poll whose commit failed blocked its poll
    loop for the whole processing and stalled the rebalance that failed the commit (seen in CI:
    no commit in 120 s). The records come again once the member has rejoined."""
    from types import SimpleNamespace

    from chaos.workloads.member import ConsumerWorkload

    spec = ConsumerSpec(
        id="c0",
        group="g",
        topic="t",
        bootstrap_servers="127.0.0.1:1",
        run_id="r1",
        run_dir=str(tmp_path),
        strategy="before_process",
    )
    workload = ConsumerWorkload(spec)
    client = _RebalancingClient()
    workload.consumer = client
    record: ConsumedRecord = SimpleNamespace(partition=0, offset=7, key=None, value=b"x")
    assert workload._handle({TopicPartition("t", 0): [record]}) == 0
    workload.ledger.close()
    assert client.commits == 1
    assert (tmp_path / "ledgers" / "consumer-c0.processed").stat().st_size == 0


class _RecordingProducer:
    """Notes when each record was queued; acknowledges nothing (only the streaming path's calls)."""

    def __init__(self) -> None:
        self.sent_at: list[float] = []

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> SendFuture:
        raise AssertionError("not called here")

    def produce(
        self, topic: str, key: bytes | None, value: bytes, report: DeliveryReport, headers: Headers | None = None
    ) -> None:
        import time

        self.sent_at.append(time.monotonic())

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass

    def init_transactions(self) -> None:
        raise AssertionError("not called here")

    def begin_transaction(self) -> None:
        raise AssertionError("not called here")

    def commit_transaction(self) -> None:
        raise AssertionError("not called here")

    def abort_transaction(self) -> None:
        raise AssertionError("not called here")

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], group: GroupMetadata
    ) -> None:
        raise AssertionError("not called here")


def test_the_send_loop_keeps_its_rate_in_bursts_of_one_pacing_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A send loop that woke every 2 ms cost the producer and the brokers twice the CPU at 2000/s.
    # The clock only moves when the loop waits its turn, so a loaded machine cannot change the count.
    import time

    from chaos.workloads.producer import ProducerWorkload

    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    (tmp_path / "ledgers").mkdir()
    spec = ProducerSpec(
        id="p0",
        topic="t",
        bootstrap_servers="127.0.0.1:1",
        run_id="r1",
        run_dir=str(tmp_path),
        mode="async",
        rate=2000,
        duration_s=1.0,
    )
    workload = ProducerWorkload(spec)
    pace_s = spec.protocol.pace_ms / 1000
    fake = _RecordingProducer()
    workload.sending.client = fake
    ticks = []

    def wait_turn() -> None:
        ticks.append(clock[0])
        clock[0] += pace_s

    monkeypatch.setattr(workload.sending, "wait_turn", wait_turn)
    sent = workload._run_streaming()
    workload.ledger.close()
    assert sent == len(fake.sent_at) and 1900 <= sent <= 2001, sent  # 2000/s for 1 s, less the last tick
    assert len(ticks) <= 1.0 / pace_s + 1, len(ticks)  # one wait per tick; a 2 ms tick gives hundreds
    bursts = len(set(fake.sent_at))
    assert bursts == len(ticks), (bursts, len(ticks))  # every wait is followed by one burst of sends
