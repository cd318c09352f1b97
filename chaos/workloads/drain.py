"""The drain: after faults heal and workloads stop, read every partition from its beginning to its
end offset with a fresh reader and record what is really in the log, plus each group's committed
offsets. Its files are what the oracle compares the ledgers with.

It never guesses: an offset out of range raises instead of jumping to the log's end
(``auto_offset_reset="none"``); a damaged batch is read, not refused (``check_crcs=False``: the
envelope's own checksum tells the oracle which records are corrupted); and it checks that the
offsets it read cover ``[beginning, end)`` of every partition, in order. ``drain.json`` is removed
before anything is read and written last, so it exists only beside a whole ``log.bin``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from chaos import rundir
from chaos.errors import InfrastructureError
from chaos.rundir import DRAIN
from chaos.waiting import wait_until
from chaos.workloads.coverage import MARKERS_UNBOUNDED, Coverage
from chaos.workloads.envelope import RowDecoder
from chaos.workloads.ledger import LOG_STRUCT, AppendFile, write_meta
from chaos.workloads.security import Brokers, brokers_of
from chaos.workloads.shape import header_value


class LogWriter:
    """Writes ``drain/<name>`` (``log.bin``, or ``committed.bin`` for the read_committed view) in
    chunks (the drain is a single thread)."""

    def __init__(self, run_dir: Path, name: str = rundir.DRAIN_LOG) -> None:
        path = run_dir / DRAIN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._file = AppendFile(path)
        self._pending: list[bytes] = []

    def add(self, partition: int, offset: int, tag: int, seq: int, status: int) -> None:
        """One record found in the log."""
        self._pending.append(LOG_STRUCT.pack(partition, offset, tag, seq, status))
        if len(self._pending) >= 4096:
            self.flush()

    def flush(self) -> None:
        """Write what is pending."""
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._file.close()


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What the drain found: record count, offsets per partition, committed offsets per group."""

    records: int
    beginning: dict[int, int]
    end: dict[int, int]
    committed: dict[str, dict[int, int]]


def drain(
    bootstrap_servers: Brokers | str,
    topic: str,
    run_id: str,
    run_dir: Path,
    groups: list[str] | None = None,
    isolation_level: str = "read_uncommitted",
    timeout: float = 180.0,
    transactional_writers: int = 0,
    compacted: bool = False,
) -> DrainResult:
    """Read all of ``topic`` into ``<run_dir>/drain/`` and return a summary.

    A topic with ``transactional_writers`` (producers writing it in transactions) is read twice, once
    waiting until every transaction is decided (the last stable offset has reached the end of every
    partition): ``log.bin`` as a read_uncommitted reader reads it, whatever ``isolation_level``
    says (a read_committed reader skips aborted records too, which no segment dump can tell from a
    gap), and ``committed.bin`` as a read_committed reader does. Its commit and abort markers take
    an offset each that no reader returns: the offsets skipped between records are listed
    (``skipped`` in ``drain.json``) and counted as ``markers``, and ``markers_verified`` stays
    null until Kafka's own segment dump has confirmed that each is a control record (the executor
    does, :func:`verify_markers`).

    A ``compacted`` topic (``cleanup.policy=compact``) has holes where its cleaner removed records
    superseded by a later one of the same key: every run of offsets not read is listed as
    ``cleaned`` (no reader is given them any more, and no segment holds them to check), and the
    oracle decides whether each missing record was superseded (``docs/verdict.md``).

    Raises:
        InfrastructureError: the topic is unknown, or the end offsets were not reached in ``timeout``.
    """
    meta_path = run_dir / DRAIN / rundir.DRAIN_META
    meta_path.unlink(missing_ok=True)
    (run_dir / DRAIN / rundir.DRAIN_COMMITTED).unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    open_transactions = wait_for_decided(bootstrap_servers, topic, deadline) if transactional_writers else {}
    if transactional_writers:
        isolation_level = "read_uncommitted"  # the whole log; committed.bin is the read_committed view
    writer = LogWriter(run_dir)
    try:
        consumer = reader(bootstrap_servers, isolation_level)
    except KafkaError as e:
        writer.close()
        raise InfrastructureError(f"the drain could not reach the cluster: {type(e).__name__}: {e}") from e

    def left_ms() -> int:
        return max(1, int((deadline - time.monotonic()) * 1000))

    try:
        partitions = topic_partitions(consumer, topic, deadline)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        try:
            # Bounded by the drain's own timeout: a partition without a leader answers no offsets.
            end = {tp.partition: int(o) for tp, o in consumer.end_offsets(tps, timeout_ms=left_ms()).items()}
            beginning = {tp.partition: int(o) for tp, o in consumer.beginning_offsets(tps, left_ms()).items()}
        except KafkaError as e:
            raise InfrastructureError(
                f"the drain could not read the offsets of {topic} within {timeout:.0f}s "
                f"(is a partition without a leader?): {type(e).__name__}: {e}"
            ) from e
        seen = Coverage(beginning, MARKERS_UNBOUNDED if transactional_writers or compacted else 0)
        records = read_partitions(consumer, tps, beginning, end, run_id, writer, seen, deadline, timeout)
        committed_view = (
            _committed_view(bootstrap_servers, tps, beginning, end, run_id, run_dir, deadline, timeout)
            if transactional_writers
            else None
        )
        committed = committed_offsets(bootstrap_servers, topic, groups or [])
        result = DrainResult(records=records, beginning=beginning, end=end, committed=committed)
        writer.close()
        gaps = seen.gaps(end)
        incomplete = f"offsets skipped: {gaps}" if gaps else None
        if open_transactions:
            incomplete = f"transactions still open after {timeout:.0f}s (last stable offset, end): {open_transactions}"
        write_meta(
            meta_path,
            {
                "complete": incomplete is None,
                "incomplete": incomplete,
                "gaps": gaps,
                # a compacted topic's holes are the cleaner's (markers among them cannot be told apart)
                "markers": {} if compacted else {str(p): n for p, n in seen.markers.items()},
                "skipped": {} if compacted else {str(p): runs for p, runs in seen.skipped.items()},
                "markers_verified": None if seen.markers and not compacted else bool(transactional_writers) or None,
                "compacted": compacted,
                "cleaned": {str(p): n for p, n in seen.markers.items()} if compacted else {},
                "cleaned_runs": {str(p): runs for p, runs in seen.skipped.items()} if compacted else {},
                "transactional_writers": transactional_writers,
                "committed_view": committed_view,
                "topic": topic,
                "records": records,
                "isolation_level": isolation_level,
                "beginning_offsets": {str(k): v for k, v in beginning.items()},
                "end_offsets": {str(k): v for k, v in end.items()},
                "committed": {g: {str(p): o for p, o in c.items()} for g, c in committed.items()},
            },
        )
        return result
    except KafkaError as e:  # whatever the client raised on the way: the drain did not complete
        raise InfrastructureError(f"the drain of {topic} failed: {type(e).__name__}: {e}") from e
    finally:
        writer.close()
        consumer.close()


def reader(bootstrap_servers: Brokers | str, isolation_level: str) -> KafkaConsumer:
    """A group-less reader that never jumps (``auto_offset_reset=none``) and reads damaged batches."""
    return KafkaConsumer(
        **brokers_of(bootstrap_servers).kafka_python(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        check_crcs=False,
        isolation_level=isolation_level,
        client_id="kafka-chaos-drain",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=16 << 20,
    )


def read_partitions(
    consumer: KafkaConsumer,
    tps: list[TopicPartition],
    beginning: dict[int, int],
    end: dict[int, int],
    run_id: str,
    writer: LogWriter,
    seen: Coverage | None,
    deadline: float,
    timeout: float,
) -> int:
    """Read the assigned partitions up to ``end`` into ``writer``; returns the records read.

    Raises:
        InfrastructureError: ``end`` was not reached by ``deadline``.
    """
    records = 0
    rows = RowDecoder(run_id)
    remaining = {tp for tp in tps if end[tp.partition] > beginning[tp.partition]}
    while remaining:
        if time.monotonic() > deadline:
            left = {tp.partition: f"{read_position(consumer, tp)}/{end[tp.partition]}" for tp in remaining}
            raise InfrastructureError(f"the drain did not reach the end offsets in {timeout:.0f}s: {left}")
        for tp, batch in consumer.poll(timeout_ms=500, max_records=10_000).items():
            for record in batch:
                if record.offset >= end[tp.partition]:
                    continue
                writer.add(tp.partition, int(record.offset), *log_row(record, rows))
                if seen is not None:
                    seen.add(tp.partition, int(record.offset))
                records += 1
        remaining = {tp for tp in remaining if read_position(consumer, tp) < end[tp.partition]}
    return records


def log_row(record: ConsumerRecord, rows: RowDecoder) -> tuple[int, int, int]:
    """``(tag, seq, status)`` of one record read from the topic, as ``drain/log.bin`` holds it."""
    tag_head = header_value(record.headers)  # an application's input: its identity in a header
    return rows(tag_head + (record.value or b"") if tag_head else record.value, record.key)


def _committed_view(
    bootstrap_servers: Brokers | str,
    tps: list[TopicPartition],
    beginning: dict[int, int],
    end: dict[int, int],
    run_id: str,
    run_dir: Path,
    deadline: float,
    timeout: float,
) -> dict[str, object]:
    """Read ``[beginning, end)`` of every partition as a read_committed reader into
    ``drain/committed.bin`` (its offsets have gaps: aborted records and markers are not returned).

    Raises:
        InfrastructureError: the end was not reached by ``deadline``.
    """
    writer = LogWriter(run_dir, rundir.DRAIN_COMMITTED)
    consumer = reader(bootstrap_servers, "read_committed")
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, beginning[tp.partition])
        records = read_partitions(consumer, tps, beginning, end, run_id, writer, None, deadline, timeout)
        return {"records": records, "isolation_level": "read_committed"}
    finally:
        writer.close()
        consumer.close()


def wait_for_decided(bootstrap_servers: Brokers | str, topic: str, deadline: float) -> dict[str, list[int]]:
    """Wait until no transaction on ``topic`` is open: each partition's last stable offset (the end a
    read_committed reader sees) equals its end. Returns the partitions still open at ``deadline``
    as ``[last stable offset, end]`` (empty: all decided)."""
    uncommitted = reader(bootstrap_servers, "read_uncommitted")
    committed = reader(bootstrap_servers, "read_committed")
    open_now: dict[str, list[int]] = {"?": [-1, -1]}
    try:
        tps = [TopicPartition(topic, p) for p in sorted(topic_partitions(uncommitted, topic, deadline))]
        while open_now and time.monotonic() < deadline:
            try:
                high = uncommitted.end_offsets(tps)
                stable = committed.end_offsets(tps)
                open_now = {str(tp.partition): [int(stable[tp]), int(high[tp])] for tp in tps if stable[tp] != high[tp]}
            except KafkaError:  # a leader moving: asked again
                open_now = {"?": [-1, -1]}
            if open_now:
                time.sleep(0.5)
        return open_now
    finally:
        uncommitted.close()
        committed.close()


def committed_offsets(bootstrap_servers: Brokers | str, topic: str, groups: list[str]) -> dict[str, dict[int, int]]:
    """Each group's committed offset per partition of ``topic`` (partitions without one are absent)."""
    if not groups:
        return {}
    admin = KafkaAdminClient(**brokers_of(bootstrap_servers).kafka_python(), client_id="kafka-chaos-drain-admin")
    try:
        out: dict[str, dict[int, int]] = {}
        for group in groups:
            offsets: Mapping[str, Mapping[TopicPartition, OffsetAndMetadata]] = admin.list_group_offsets({group: None})
            out[group] = {
                tp.partition: int(om.offset)
                for tp, om in offsets.get(group, {}).items()
                if tp.topic == topic and om.offset >= 0
            }
        return out
    finally:
        admin.close()


def read_position(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """The next offset to read, -1 while it cannot be known (the partition has no leader)."""
    try:
        return int(consumer.position(tp, timeout_ms=1000))
    except KafkaError:
        return -1


def topic_partitions(consumer: KafkaConsumer, topic: str, deadline: float) -> set[int]:
    """The topic's partitions, asked again through connection errors (a broker in the bootstrap
    list may be down) until ``deadline``.

    Raises:
        InfrastructureError: the topic is unknown, or no broker answered, by the deadline.
    """
    last = ["no answer"]

    def found() -> set[int] | None:
        try:
            partitions = consumer.partitions_for_topic(topic)
        except KafkaError as e:
            last[0] = f"{type(e).__name__}: {e}"
            return None
        if not partitions:
            last[0] = "the topic is unknown"
            return None
        return set(partitions)

    return wait_until(
        found,
        max(0.0, deadline - time.monotonic()),
        f"the partitions of topic {topic!r}",
        interval=0.5,
        error=lambda _: InfrastructureError(f"the drain found no partitions of topic {topic!r} ({last[0]})"),
    )
