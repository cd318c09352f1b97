"""What a workload process does before and after its work: read its spec, turn SIGTERM and SIGINT
into a clean stop, report its count. Shared by ``chaos.workloads.producer`` and ``.consumer``."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

from chaos.workloads.log_limit import limit_repeats
from chaos.workloads.spec import ConsumerSpec, ProducerSpec, load_spec

S = TypeVar("S", ProducerSpec, ConsumerSpec)


def workload_main(
    argv: list[str] | None, spec_type: type[S], work: Callable[[S, threading.Event], int], done: str
) -> int:
    """Run ``work(spec, stop)`` for the spec file named in ``argv``; SIGTERM/SIGINT set ``stop``.

    Returns the process exit code: 0 after a clean finish, 2 for a spec of the wrong kind.
    """
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    # Group membership is evidence for the verdict (why committed offsets lag, why records came
    # twice): joins, rebalances, revocations and failed commits go to the workload's log. They are
    # rare lines, written only when membership changes.
    logging.getLogger("kafka.coordinator").setLevel(logging.INFO)
    limit_repeats()  # a client stuck in a loop must not fill the disk over a soak
    spec = load_spec(Path(args[0]))
    if not isinstance(spec, spec_type):
        print(f"{args[0]} is not a {spec_type.__name__}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()  # finish the current record, flush, commit, close, exit 0

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    count = work(spec, stop)
    print(f"{spec_type.__name__.removesuffix('Spec').lower()} {spec.id}: {done} {count}", flush=True)
    return 0
