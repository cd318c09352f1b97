"""The release of each client a run uses, named in every report: kafka-python's and
confluent-kafka's as installed (confluent-kafka's wheel carries its own librdkafka, which is named
too), the Java client's as chosen (its jars are that Kafka release's ``kafka-clients``)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def librdkafka_version() -> str:
    """The librdkafka confluent-kafka was built with, e.g. ``2.12.1`` ("not installed" without it)."""
    try:
        import confluent_kafka
    except ImportError:
        return "not installed"
    return str(confluent_kafka.libversion()[0])


def client_versions(clients: Iterable[str], java_release: str) -> dict[str, str]:
    """``{name: release}`` of each client in ``clients``; an external client's release is its own
    business (``external``).

    >>> client_versions(["java"], "3.9.1")
    {'kafka-clients': '3.9.1'}
    """
    found: dict[str, str] = {}
    for name in clients:
        if name == "java":
            found["kafka-clients"] = java_release
        elif name == "kafka-python":
            found["kafka-python"] = _installed("kafka-python")
        elif name == "librdkafka":
            found["confluent-kafka"] = _installed("confluent-kafka")
            found["librdkafka"] = librdkafka_version()
        else:
            found[name] = "external"
    return found
