"""End-to-end experiment runs: real Docker, real Kafka, one cluster per experiment."""

from tests.integration.conftest import engine, images_present  # noqa: F401 - the same loud checks
