"""How a run, a suite, a search or a matrix runs: :class:`RunOptions`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaos.cluster.external import ExternalTarget
from chaos.events import EventBus, Listener
from chaos.experiments.applicable import Defined
from chaos.progress import Progress, ProgressListener, silent
from chaos.reports import ReportListener


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: seed for random choices, where run directories go, what to keep, how to talk."""

    reports_dir: Path = Path("reports")
    seed: int = 0
    keep_cluster: bool = False
    kafka_version: str | None = None
    #: The Java client's release for every run (``--client-version``); None: each file's own.
    client_version: str | None = None
    progress: Progress = silent
    #: Seconds between live status lines (0: none).
    status_every: float = 5.0
    #: A cluster of its own for every run of a suite (``--fresh-cluster``), instead of one per shape
    #: reset between runs.
    fresh_cluster: bool = False
    #: The run id of a running cluster to run on (``--cluster``), e.g. one from ``kafka-chaos cluster
    #: up``: reset before every run and left running; None starts clusters of the runs' own.
    cluster: str | None = None
    #: Further listeners of the lifecycle events (progress and reports are always subscribed).
    listeners: tuple[Listener, ...] = ()
    #: The keys each release defines (:func:`~chaos.experiments.applicable.release_keys`): a row
    #: setting a key its release lacks is not applicable there. None: only ``needs:`` decides.
    release_keys: Defined | None = None
    #: A team's running cluster to run on (``--bootstrap-servers``): never started, stopped or
    #: reset; each run keeps to its own topics and groups (:mod:`chaos.cluster.external`).
    external: ExternalTarget | None = None
    #: The cluster id consented to faults on (``--allow-faults-on``) when the files name the team's
    #: cluster (``cluster: {external: …}``) rather than the command line.
    allow_faults_on: str | None = None

    def bus(self) -> EventBus:
        """The event bus of a run: progress lines, reports, then the extra listeners."""
        return EventBus([ProgressListener(self.progress), ReportListener(self.progress), *self.listeners])
