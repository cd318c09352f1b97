"""Images built locally from package registries: a Debian base, Apache Kafka, toxiproxy."""

from chaos.images.recipes import (
    DEFAULT_KAFKA_VERSION,
    TOXIPROXY_VERSION,
    ImageRefs,
    base_tag,
    check_kafka_version,
    image_refs,
    kafka_tag,
    toxiproxy_tag,
)

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "TOXIPROXY_VERSION",
    "ImageRefs",
    "base_tag",
    "check_kafka_version",
    "image_refs",
    "kafka_tag",
    "toxiproxy_tag",
]
