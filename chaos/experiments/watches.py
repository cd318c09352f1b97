"""The watches of a run's topic while faults act and heal, started and stopped together: its ISR
(:mod:`chaos.experiments.isr_watch`) and each broker's leader epochs and high watermarks
(:mod:`chaos.experiments.progress_watch`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from chaos import rundir
from chaos.experiments.isr_watch import IsrWatch, Replicated
from chaos.experiments.plan import TopicPlan
from chaos.experiments.progress_watch import ProgressWatch
from chaos.faults.base import Timeline
from chaos.watched import BrokerView


class Watch(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Watches:
    """Several watches as one: started in order, each stopped even when another's stop raised."""

    def __init__(self, *watches: Watch) -> None:
        self.watches = watches

    def start(self) -> None:
        """Start every watch."""
        for w in self.watches:
            w.start()

    def stop(self) -> None:
        """Stop every watch.

        Raises:
            Exception: the first a watch's stop raised, once every other has been stopped.
        """
        first: Exception | None = None
        for w in self.watches:
            try:
                w.stop()
            except Exception as e:
                first = first or e
        if first is not None:
            raise first


def topic_watches(
    partitions: Callable[[str, int], Sequence[Replicated]],
    views: Callable[[str], Sequence[BrokerView]],
    topic: TopicPlan,
    timeline: Timeline,
    run_dir: Path,
) -> Watches:
    """The watches of ``topic``: ``partitions(name, attempts)`` is the cluster's agreed view of its
    partitions, ``views(name)`` every running broker's own; the ISR goes to ``timeline``, the
    brokers' views to ``run_dir/watch/progress.jsonl``."""
    return Watches(
        IsrWatch(lambda: partitions(topic.name, 1), topic.replication_factor, timeline),
        ProgressWatch(lambda: views(topic.name), run_dir / rundir.WATCH / rundir.PROGRESS),
    )
