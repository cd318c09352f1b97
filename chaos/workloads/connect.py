"""A new client of the kind a spec names, behind :mod:`chaos.workloads.interfaces`: the one place a
workload chooses between kafka-python and librdkafka (whose module is imported only when used)."""

from __future__ import annotations

from collections.abc import Mapping

from chaos.workloads.interfaces import ConsumerClient, ProducerClient
from chaos.workloads.kafka_python import KafkaPythonConsumer, KafkaPythonProducer
from chaos.workloads.settings import Setting


def new_producer(client: str, config: Mapping[str, Setting], max_block_ms: int = 60_000) -> ProducerClient:
    """A producer of ``client`` (``kafka-python`` or ``librdkafka``) with ``config`` as it spells it;
    ``max_block_ms`` bounds how long librdkafka's full queue holds a send.

    Raises:
        KafkaConfigurationError: kafka-python refused the configuration (``KafkaException``: librdkafka).
    """
    if client == "librdkafka":
        from chaos.workloads.rdkafka import RdProducer

        return RdProducer(config, max_block_ms)
    return KafkaPythonProducer(config)


def new_consumer(client: str, config: Mapping[str, Setting], max_poll_records: int = 500) -> ConsumerClient:
    """A consumer of ``client`` with ``config`` as it spells it; ``max_poll_records`` bounds a
    librdkafka poll (kafka-python takes it in ``config``).

    Raises:
        KafkaConfigurationError: kafka-python refused the configuration (``KafkaException``: librdkafka).
    """
    if client == "librdkafka":
        from chaos.workloads.rdkafka import RdConsumer

        return RdConsumer(config, max_poll_records)
    return KafkaPythonConsumer(config)
