"""What a suite needs before any cluster starts: each Java client release's driver compiled, each
external client built."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.experiments.applicable import uses_java
from chaos.experiments.model import Experiment
from chaos.progress import Progress


def prepare_clients(
    experiments: Sequence[Experiment], kafka_version: str | None, client_version: str | None, progress: Progress
) -> None:
    """Compile the Java client driver for each Kafka release an experiment runs it against, and build
    each external client that has a build command, before any cluster starts (a no-op when built already).

    Raises:
        InfrastructureError: no JDK on this machine, the jars could not be resolved, or a build failed.
        UsageError: an installed client that cannot be loaded (loading checks this already).
    """
    from chaos.images.java_driver import build_java_driver

    versions = {exp.on_release(kafka_version, client_version).java_release for exp in experiments if uses_java(exp)}
    for version in sorted(versions):
        build_java_driver(version, progress=progress)
    sections = [s for exp in experiments for s in (exp.producer, exp.consumer) if s is not None]
    externals = {found for s in sections if (found := s.external()) is not None}
    for external in sorted(externals, key=lambda e: (e.name, e.build)):
        external.build_now(progress)
