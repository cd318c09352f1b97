"""Each broker's own view of a topic's partitions, asked of that broker itself: the leader and leader
epoch its metadata holds and, where it says it leads, its high watermark.

A client's metadata is whichever broker it asked last; a broker cut off from the controller keeps
answering with its stale view. Whether leader epochs and high watermarks only move forward is a
question about each broker's own answers, so each is asked directly (kafka-python's connection
manager, pinned, through :mod:`chaos.cluster.admin`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka.errors import KafkaConnectionError, KafkaError

from chaos.cluster.admin import Admin, high_watermarks_from, metadata_from
from chaos.watched import BrokerView


def broker_views(admin: Admin, brokers: Iterable[int], topic: str) -> list[BrokerView]:
    """Every partition of ``topic`` as each of ``brokers`` (node ids) sees it now. A broker that does
    not answer (down, frozen, cut off from the harness) is left out; a leader that does not answer
    for its high watermark is kept, with ``high_watermark`` None.

    Raises:
        KafkaConnectionError: none of ``brokers`` answered (the admin client may be the one at fault).
    """
    views: list[BrokerView] = []
    answered = False
    for broker in brokers:
        try:
            answer = metadata_from(admin, broker, topic)
        except (KafkaError, OSError):
            continue
        answered = True
        t_ms = time.time_ns() // 1_000_000
        seen = [
            (int(p["partition_index"]), int(p["leader_id"]), int(p.get("leader_epoch", -1)))
            for t in answer.get("topics", [])
            if not int(t.get("error_code", 0) or 0)
            for p in t["partitions"]
        ]
        led = {partition: epoch for partition, leader, epoch in seen if leader == broker and epoch >= 0}
        marks: dict[int, int] = {}
        if led:
            try:
                marks = high_watermarks_from(admin, broker, topic, led)
            except (KafkaError, OSError):
                marks = {}
        views += [BrokerView(t_ms, broker, p, leader, epoch, marks.get(p)) for p, leader, epoch in seen]
    if not answered:
        raise KafkaConnectionError(f"no broker answered for the metadata of {topic}")
    return views
