"""The application's output topic read back and correlated to its inputs (``drain/output.bin``,
``drain/output-times.bin``, ``drain/output.json``; docs/applications.md).

Each output record is read as a read_committed reader sees it (an exactly-once application's
aborted outputs are not outputs), and the identity of its input is taken from where the experiment
says it survives the application's processing: the key, a header, or a JMESPath expression into its
JSON value (``chaos.workloads.shape.parse_id`` reads ``p0-17`` or a ``kafka-chaos`` header's
envelope head). An output whose identity cannot be read is kept as ``FOREIGN``, counted and shown,
never dropped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jmespath
import numpy as np
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from chaos import rundir
from chaos.errors import InfrastructureError
from chaos.rundir import DRAIN
from chaos.workloads.application import Correlation
from chaos.workloads.drain import LogWriter, reader, topic_partitions, wait_for_decided
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import OUTPUT_TIME, write_meta
from chaos.workloads.security import Brokers
from chaos.workloads.shape import parse_id

#: Outputs that could not be correlated shown in ``output.json``.
EXAMPLES = 10


def identity(record: ConsumerRecord, correlation: Correlation) -> tuple[str | None, str]:
    """The text naming ``record``'s input, or None and why not."""
    if correlation.by == "key":
        return (record.key.decode(errors="replace"), "") if record.key is not None else (None, "no key")
    if correlation.by == "header":
        for name, value in record.headers or ():
            if name == correlation.where and value is not None:
                return value.decode(errors="replace"), ""
        return None, f"no header {correlation.where}"
    try:
        found = jmespath.search(correlation.where, json.loads(record.value or b""))
    except (ValueError, TypeError, RecursionError):
        return None, "the value is not JSON"
    if found is None:
        return None, f"nothing at {correlation.where}"
    return str(found), ""


def drain_app_output(
    bootstrap_servers: Brokers | str,
    topic: str,
    run_id: str,
    run_dir: Path,
    correlation: Correlation,
    timeout: float = 180.0,
) -> int:
    """Read the application's output ``topic`` into the run directory; returns the records read.

    Raises:
        InfrastructureError: the topic is unknown, or its end was not reached in ``timeout``.
    """
    meta_path = run_dir / DRAIN / rundir.DRAIN_OUTPUT_META
    meta_path.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    still_open = wait_for_decided(bootstrap_servers, topic, deadline)
    writer = LogWriter(run_dir, rundir.DRAIN_OUTPUT)
    times: list[tuple[int, int, int]] = []
    uncorrelated: list[dict[str, object]] = []
    count = 0
    consumer = reader(bootstrap_servers, "read_committed")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(topic_partitions(consumer, topic, deadline))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = {tp.partition: int(o) for tp, o in consumer.end_offsets(tps).items()}
        beginning = {tp.partition: int(o) for tp, o in consumer.beginning_offsets(tps).items()}
        remaining = {tp for tp in tps if consumer.position(tp) < end[tp.partition]}
        while remaining:
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"the drain of the output topic {topic} did not reach its end in {timeout:.0f}s"
                )
            for tp, batch in consumer.poll(timeout_ms=500, max_records=10_000).items():
                for record in batch:
                    if record.offset >= end[tp.partition]:
                        continue
                    text, why = identity(record, correlation)
                    named = parse_id(text, run_id) if text is not None else None
                    if named is None:
                        writer.add(tp.partition, int(record.offset), 0, -1, int(Status.FOREIGN))
                        if len(uncorrelated) < EXAMPLES:
                            shown = why or f"{(text or '')[:60]!r} names no input (expected <producer>-<seq>)"
                            uncorrelated.append({"partition": tp.partition, "offset": record.offset, "why": shown})
                    else:
                        writer.add(tp.partition, int(record.offset), producer_tag(named[0]), named[1], 0)
                    times.append((tp.partition, int(record.offset), int(record.timestamp)))
                    count += 1
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp.partition]}
        writer.close()
        np.array(times, dtype=OUTPUT_TIME).tofile(run_dir / DRAIN / rundir.DRAIN_OUTPUT_TIMES)
        incomplete = f"transactions still open (last stable offset, end): {still_open}" if still_open else None
        write_meta(
            meta_path,
            {
                "topic": topic,
                "records": count,
                "isolation_level": "read_committed",
                "end_offsets": {str(k): v for k, v in end.items()},
                "beginning_offsets": {str(k): v for k, v in beginning.items()},
                "complete": incomplete is None,
                "incomplete": incomplete,
                "correlate": {"by": correlation.by, "where": correlation.where},
                "uncorrelated_examples": uncorrelated,
            },
        )
        return count
    except KafkaError as e:
        raise InfrastructureError(f"the drain of the output topic {topic} failed: {type(e).__name__}: {e}") from e
    finally:
        writer.close()
        consumer.close()
