"""The progress watch on a real cluster: every broker answers for itself, and the leader's high
watermark grows while a producer writes."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaProducer

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.experiments.progress_watch import ProgressWatch
from chaos.oracle.epochs import epoch_regressions, hw_regressions, read_progress
from tests.helpers.real_cluster import QUICK_WITH_CONTROLLER

pytestmark = QUICK_WITH_CONTROLLER


def test_every_broker_answers_and_the_leaders_high_watermark_grows(kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    name = f"w-{uuid.uuid4().hex[:8]}"
    kafka_cluster.create_topic(name, partitions=3, replication_factor=3)
    producer = KafkaProducer(bootstrap_servers=kafka_cluster.bootstrap_servers.split(","), acks="all", linger_ms=5)
    writing = threading.Event()
    writing.set()

    def write() -> None:
        while writing.is_set():
            for p in range(3):
                producer.send(name, b"x", partition=p)
            time.sleep(0.01)

    writer = threading.Thread(target=write, daemon=True)
    watch = ProgressWatch(lambda: kafka_cluster.broker_views(name), tmp_path / rundir.WATCH / rundir.PROGRESS)
    writer.start()
    try:
        watch.start()
        time.sleep(5)
        watch.stop()
    finally:
        writing.clear()
        writer.join(10)
        producer.close(timeout=10)

    samples = read_progress(tmp_path)
    assert {s.broker for s in samples} == {b.node_id for b in kafka_cluster.brokers}
    assert {s.partition for s in samples} == {0, 1, 2}
    for p in range(3):
        led = [s for s in samples if s.partition == p and s.leader == s.broker and s.high_watermark is not None]
        assert len(led) >= 3, f"partition {p}: the leader answered for its high watermark {len(led)} times"
        assert led[-1].high_watermark is not None and led[0].high_watermark is not None
        assert led[-1].high_watermark > led[0].high_watermark, f"partition {p}: {led}"
        followers = [s for s in samples if s.partition == p and s.leader != s.broker]
        assert followers and all(s.high_watermark is None for s in followers)
    assert epoch_regressions(samples, 5)[0] == 0
    assert hw_regressions(samples, 5)[0] == 0
