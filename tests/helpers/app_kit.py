"""A hand-built application run for the oracle's truth tests: the harness's own writers
(ProducerLedger, save_spec, AppSpec.describe, shape.render/tag_header) and its real drains
(chaos.workloads.drain.drain, app_output.drain_app_output) reading an in-memory Kafka through
kafka-python's consumer interface, then reconcile(run_dir).

No Docker, no Kafka: the fake stands in for KafkaConsumer / KafkaAdminClient inside the drain module
while :meth:`AppRun.finish` runs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from kafka import TopicPartition

import chaos.workloads.drain as drain_module
from chaos import rundir
from chaos.oracle import Verdict
from chaos.oracle.reconcile import reconcile
from chaos.workloads.app_output import drain_app_output
from chaos.workloads.application import AppSpec, Correlation
from chaos.workloads.clocks import Clocks
from chaos.workloads.ledger import ProducerLedger, write_meta
from chaos.workloads.protocol import DriverProtocol
from chaos.workloads.shape import HEADER, InputShape, record_id, tag_header
from chaos.workloads.spec import ProducerMode, ProducerSpec, save_spec

RUN_ID = "20260101-000000-ab12"
BY_KEY = Correlation("key")
T0_MS = 1_800_000_000_000  # an epoch ms


# ----------------------------------------------------------------------------------------------- fake Kafka
@dataclass
class Entry:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp: int = 0
    aborted: bool = False  # an aborted transaction's record: read_committed readers skip it
    hole: bool = False  # removed by the cleaner / a marker: no reader is given it


@dataclass
class Rec:  # the part of kafka-python's ConsumerRecord the drains read
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int


class Topic:
    def __init__(self, partitions: int) -> None:
        self.parts: dict[int, list[Entry]] = {p: [] for p in range(partitions)}
        self.start: dict[int, int] = {p: 0 for p in range(partitions)}

    def append(self, p: int, e: Entry) -> int:
        self.parts[p].append(e)
        return self.start[p] + len(self.parts[p]) - 1

    def end(self, p: int) -> int:
        return self.start[p] + len(self.parts[p])


class OM:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class FakeCluster:
    """``fetch``: records per partition a poll returns at most (kafka-python's max_partition_fetch_bytes);
    partitions are served round robin from a rotating first partition, as fetch responses interleave."""

    def __init__(self, fetch: int = 10**9) -> None:
        self.topics: dict[str, Topic] = {}
        self.offsets: dict[str, dict[tuple[str, int], int]] = {}
        self.fetch = fetch

    def consumer(self, **kw: Any) -> FakeConsumer:
        return FakeConsumer(self, kw.get("isolation_level") == "read_committed")

    def admin(self, **kw: Any) -> FakeAdmin:
        return FakeAdmin(self)


class FakeAdmin:
    def __init__(self, c: FakeCluster) -> None:
        self.c = c

    def list_group_offsets(self, groups: dict[str, Any]) -> dict[str, dict[TopicPartition, OM]]:
        return {g: {TopicPartition(t, p): OM(o) for (t, p), o in self.c.offsets.get(g, {}).items()} for g in groups}

    def close(self) -> None:
        pass


class FakeConsumer:
    def __init__(self, c: FakeCluster, committed: bool) -> None:
        self.c, self.committed = c, committed
        self.next: dict[TopicPartition, int] = {}
        self.turn = 0

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        t = self.c.topics.get(topic)
        return set(t.parts) if t else None

    def assign(self, tps: list[TopicPartition]) -> None:
        self.next = {tp: self.c.topics[tp.topic].start[tp.partition] for tp in tps}

    def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.next[tp] = self.c.topics[tp.topic].start[tp.partition]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.next[tp] = offset

    def end_offsets(self, tps: list[TopicPartition], timeout_ms: int | None = None) -> dict[TopicPartition, int]:
        return {tp: self.c.topics[tp.topic].end(tp.partition) for tp in tps}

    def beginning_offsets(self, tps: list[TopicPartition], timeout_ms: int | None = None) -> dict[TopicPartition, int]:
        return {tp: self.c.topics[tp.topic].start[tp.partition] for tp in tps}

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.next[tp]

    def poll(self, timeout_ms: int = 0, max_records: int = 500) -> dict[TopicPartition, list[Rec]]:
        out: dict[TopicPartition, list[Rec]] = {}
        tps = list(self.next)
        if not tps:
            return out
        self.turn = (self.turn + 1) % len(tps)
        budget = max_records
        for tp in tps[self.turn :] + tps[: self.turn]:
            t = self.c.topics[tp.topic]
            at, end, base = self.next[tp], t.end(tp.partition), t.start[tp.partition]
            got: list[Rec] = []
            while at < end and len(got) < min(self.c.fetch, budget):
                e = t.parts[tp.partition][at - base]
                if not e.hole and not (self.committed and e.aborted):
                    got.append(Rec(tp.topic, tp.partition, at, e.key, e.value, list(e.headers), e.timestamp))
                at += 1
            self.next[tp] = at
            budget -= len(got)
            if got:
                out[tp] = got
        return out

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------------------- a run
class AppRun:
    """Producer p0 (a shaped input, ``mode``) writing ``topic``; the application (group ``group``)
    writing ``out_topic``; faults on the timeline; then the real drains and the oracle."""

    def __init__(
        self,
        run_dir: str | Path,
        shape: InputShape,
        correlate: Correlation = BY_KEY,
        partitions: int = 1,
        out_partitions: int | None = None,
        mode: ProducerMode = "async",
        topic: str = "t",
        group: str = "kc-t-ab12-app",
        fetch: int = 10**9,
        ordered: bool = False,
    ) -> None:
        self.dir = Path(run_dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / rundir.LEDGERS).mkdir(parents=True)
        self.shape, self.correlate, self.topic, self.out_topic, self.group = (
            shape,
            correlate,
            topic,
            f"{topic}-out",
            group,
        )
        self.kafka = FakeCluster(fetch)
        self.kafka.topics[topic] = Topic(partitions)
        self.kafka.topics[self.out_topic] = Topic(out_partitions or partitions)
        self.now_ms = T0_MS
        clocks = Clocks(wall_ns=lambda: self.now_ms * 1_000_000, monotonic_ns=lambda: self.now_ms * 1_000_000)
        write_meta(self.dir / rundir.RUN, {"run_id": RUN_ID, "experiment": "review"})
        spec = ProducerSpec(
            id="p0",
            topic=topic,
            bootstrap_servers="fake:9092",
            run_id=RUN_ID,
            run_dir=str(self.dir),
            mode=mode,
            shape=shape,
        )
        save_spec(spec, self.dir / "workloads" / "producer-p0.json")
        meta: dict[str, object] = {
            "mode": mode,
            "client": "kafka-python",
            "topic": topic,
            "settings": {},
            "run_id": RUN_ID,
        }
        self.ledger = ProducerLedger(self.dir, "p0", meta, DriverProtocol(ack_batch=1), clocks)
        self.app = AppSpec(
            command=("/bin/true",),
            image=None,
            env={"B": "${bootstrap}"},
            input_topic=topic,
            output_topic=self.out_topic,
            group=group,
            run_id=RUN_ID,
            run_dir=str(self.dir),
            correlation=correlate,
            ordered=ordered,
        )
        write_meta(self.dir / rundir.LEDGERS / rundir.APPLICATION_META, self.app.describe())
        self.input_pos: dict[int, tuple[int, int]] = {}

    # the producer -------------------------------------------------------------------------------
    def at(self, ms: int) -> None:
        """The wall clock, ms after T0."""
        self.now_ms = T0_MS + ms

    def send(self, seq: int, partition: int = 0, ack: bool = True, write: bool = True) -> int:
        """Record ``seq`` of p0 in its shape, with its identity header; returns its offset (-1: not written)."""
        key, value = self.shape.render("p0", seq)
        headers = [(HEADER, tag_header(RUN_ID, "p0", seq, key, value))]
        self.ledger.intent(seq)
        offset = -1
        if write:
            offset = self.kafka.topics[self.topic].append(partition, Entry(key, value, headers, self.now_ms))
            self.input_pos[seq] = (partition, offset)
        self.ledger.returned(seq)
        if ack and offset >= 0:
            self.ledger.ack(seq, partition, offset)
        return offset

    def ack_late(self, seq: int, partition: int, offset: int) -> None:
        self.ledger.ack(seq, partition, offset)

    def write_raw_input(self, partition: int, seq: int) -> int:
        """Another copy of ``seq`` in the log (a producer retry without idempotence)."""
        key, value = self.shape.render("p0", seq)
        headers = [(HEADER, tag_header(RUN_ID, "p0", seq, key, value))]
        return self.kafka.topics[self.topic].append(partition, Entry(key, value, headers, self.now_ms))

    def truncate_input(self, partition: int, to: int) -> None:
        t = self.kafka.topics[self.topic]
        del t.parts[partition][to - t.start[partition] :]

    # the application ------------------------------------------------------------------------------
    def input_record(self, seq: int) -> Entry:
        p, o = self.input_pos[seq]
        t = self.kafka.topics[self.topic]
        return t.parts[p][o - t.start[p]]

    def output(self, seq: int | None, partition: int | None = None, ts_ms: int | None = None, **over: Any) -> int:
        """The application's output for input ``seq``, naming it where ``correlate`` says (``over``:
        key / value / headers as written instead). Append time: ``ts_ms`` after T0 (default: now)."""
        inp = self.input_record(seq) if seq is not None else None
        key, value, headers = (inp.key, inp.value, list(inp.headers)) if inp else (None, b"{}", [])
        if self.correlate.by == "key" and seq is not None:
            key = record_id("p0", seq).encode()
        key = over.get("key", key)
        value = over.get("value", value)
        headers = over.get("headers", headers)
        if partition is None:
            partition = self.input_pos[seq][0] if seq is not None else 0
        ts = T0_MS + ts_ms if ts_ms is not None else self.now_ms
        return self.kafka.topics[self.out_topic].append(
            partition, Entry(key, value, headers, ts, aborted=bool(over.get("aborted", False)))
        )

    def commit(self, partition: int, offset: int) -> None:
        self.kafka.offsets.setdefault(self.group, {})[(self.topic, partition)] = offset

    # faults -----------------------------------------------------------------------------------------
    def fault(self, name: str, kind: str, inject_ms: int, heal_ms: int | None) -> None:
        with (self.dir / rundir.TIMELINE).open("a") as f:
            f.write(
                json.dumps({"t": (T0_MS + inject_ms) / 1000, "event": "inject", "fault": name, "kind": kind}) + "\n"
            )
            if heal_ms is not None:
                f.write(
                    json.dumps({"t": (T0_MS + heal_ms) / 1000, "event": "heal", "fault": name, "kind": kind}) + "\n"
                )

    # drain and judge ----------------------------------------------------------------------------------
    def finish(self, compacted: bool = False) -> Verdict:
        """Drain both topics through the real drains and reconcile."""
        self.ledger.close()
        with (
            mock.patch.object(drain_module, "KafkaConsumer", self.kafka.consumer),
            mock.patch.object(drain_module, "KafkaAdminClient", self.kafka.admin),
        ):
            drain_module.drain(
                "fake:9092", self.topic, RUN_ID, self.dir, [self.group], "read_uncommitted", 5.0, compacted=compacted
            )
            drain_app_output("fake:9092", self.out_topic, RUN_ID, self.dir, self.correlate, 5.0)
        t = self.kafka.topics[self.topic]
        write_meta(
            self.dir / rundir.DRAIN / rundir.KAFKA_OFFSETS,
            {"beginning": {str(p): t.start[p] for p in t.parts}, "end": {str(p): t.end(p) for p in t.parts}},
        )
        return reconcile(self.dir)
