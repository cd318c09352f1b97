"""The consumer process: ``python -m chaos.workloads.consumer SPEC.json`` runs one consumer group
member (:mod:`chaos.workloads.member`), or a consume-transform-produce member
(:mod:`chaos.workloads.transform`) when the spec names an output topic."""

from __future__ import annotations

import sys
import threading

from chaos.workloads.entry import workload_main
from chaos.workloads.member import ConsumerWorkload
from chaos.workloads.spec import ConsumerSpec
from chaos.workloads.transform import TransformWorkload


def main(argv: list[str] | None = None) -> int:
    """Entry point of the consumer process: ``python -m chaos.workloads.consumer SPEC.json``."""
    return workload_main(argv, ConsumerSpec, lambda spec, stop: _workload(spec, stop).run(), "processed")


def _workload(spec: ConsumerSpec, stop: threading.Event) -> ConsumerWorkload:
    """A consumer, or a consume-transform-produce member when the spec names an output topic."""
    if spec.output_topic is None:
        return ConsumerWorkload(spec, stop)
    return TransformWorkload(spec, stop)


if __name__ == "__main__":
    sys.exit(main())
