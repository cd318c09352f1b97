"""The output topic of consume-transform-produce members, drained as a read_committed reader sees
it (``drain/output.bin``, ``drain/output.json``; docs/ledgers.md)."""

from __future__ import annotations

import time
from pathlib import Path

from kafka import TopicPartition
from kafka.errors import KafkaError

from chaos import rundir
from chaos.errors import InfrastructureError
from chaos.rundir import DRAIN
from chaos.workloads.drain import LogWriter, read_partitions, reader, topic_partitions, wait_for_decided
from chaos.workloads.ledger import write_meta
from chaos.workloads.security import Brokers


def drain_output(
    bootstrap_servers: Brokers | str,
    topic: str,
    run_id: str,
    run_dir: Path,
    transactional: bool,
    timeout: float = 180.0,
) -> int:
    """Read a consume-transform-produce output ``topic`` as a read_committed reader sees it into
    ``drain/output.bin`` (each output record names its input record) and ``drain/output.json``
    (``topic``, ``records``, ``end_offsets``, ``complete``, ``incomplete``); with ``transactional``
    writers, once no transaction is open. Returns the records read.

    Raises:
        InfrastructureError: the topic is unknown, or its end was not reached in ``timeout``.
    """
    meta_path = run_dir / DRAIN / rundir.DRAIN_OUTPUT_META
    meta_path.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    still_open = wait_for_decided(bootstrap_servers, topic, deadline) if transactional else {}
    writer = LogWriter(run_dir, rundir.DRAIN_OUTPUT)
    consumer = reader(bootstrap_servers, "read_committed")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(topic_partitions(consumer, topic, deadline))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = {tp.partition: int(o) for tp, o in consumer.end_offsets(tps).items()}
        beginning = {tp.partition: int(o) for tp, o in consumer.beginning_offsets(tps).items()}
        records = read_partitions(consumer, tps, beginning, end, run_id, writer, None, deadline, timeout)
        writer.close()
        incomplete = f"transactions still open (last stable offset, end): {still_open}" if still_open else None
        write_meta(
            meta_path,
            {
                "topic": topic,
                "records": records,
                "isolation_level": "read_committed",
                "end_offsets": {str(k): v for k, v in end.items()},
                "complete": incomplete is None,
                "incomplete": incomplete,
            },
        )
        return records
    except KafkaError as e:
        raise InfrastructureError(f"the drain of the output topic {topic} failed: {type(e).__name__}: {e}") from e
    finally:
        writer.close()
        consumer.close()
