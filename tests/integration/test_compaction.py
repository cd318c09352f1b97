"""A compacted topic on a real cluster: Kafka's cleaner removes every value of a key but the last,
the drain lists its holes as cleaned, and the verdict counts the removed values as superseded, not
lost. Certain by construction: every record has one key (``keys: pinned``), segments roll every
100 ms, and the test waits until the cleaner is seen to have removed records before it judges."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, TopicPartition

from chaos.scenario import Scenario
from chaos.waiting import wait_until
from tests.helpers.real_cluster import QUICK

pytestmark = QUICK  # its idle cleaner looks for work every second

RECORDS = 300
COMPACTED = {
    "cleanup.policy": "compact",
    "segment.ms": "100",  # a record 100 ms after a segment opened rolls it: older ones become cleanable
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "2",
}


def records_in_log(bootstrap: str, topic: str) -> int:
    """How many records a reader is given from partition 0 now."""
    tp = TopicPartition(topic, 0)
    reader = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        end = reader.end_offsets([tp])[tp]
        return sum(1 for r in reader if r.offset < end)
    finally:
        reader.close()


@pytest.mark.parametrize("scenario", [{"partitions": 1, "topic_config": COMPACTED}], indirect=True)
def test_values_the_cleaner_removed_are_superseded_not_lost(scenario: Scenario) -> None:
    topic = scenario.topic.name
    producer = scenario.producer(mode="async", count=RECORDS, rate=100, keys="pinned", settings={"acks": "all"})
    producer.start()
    assert producer.wait(120) == 0, producer.log_tail()
    # wait until the cleaner is seen to have removed values
    seen = [RECORDS]

    def cleaned() -> bool:
        seen[0] = records_in_log(scenario.bootstrap, topic)
        return seen[0] < RECORDS // 2

    wait_until(
        cleaned, 90, "Kafka's cleaner to compact the topic", interval=1, seen=lambda: f"{seen[0]} records in the log"
    )
    v = scenario.verdict()
    assert v.conclusive, v.trust.reasons
    assert v.counts.acked == RECORDS
    assert v.counts.superseded >= RECORDS // 2 and v.counts.in_log + v.counts.superseded == RECORDS
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}, v.examples["broker"]
    assert v.trust.independent_count is True  # Kafka's own offsets: read records + cleaned holes
