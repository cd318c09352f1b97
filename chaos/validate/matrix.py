"""The dynamic proof: a standard fault matrix run against exactly the team's settings (and, with
``--compare``, against the recommended ones), on one cluster, each fault with its own topic.

Every fault must end with no loss at any stage. The application around the clients is modelled
as the team says it is: the producer sends synchronously (``--producer-mode`` picks another); the
consumer processes per ``--processing`` — each poll's records before the next poll (``in-poll``),
or buffered into a batch a minute long (``batched``, as in Kafka's consumer examples; ``async`` hands records to other
threads, the same hazard) — taking ``--process-ms`` per batch, and commits per its
``enable.auto.commit``: auto-commit, or ``commitSync()`` after each processed batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import UsageError
from chaos.experiments.app_model import ApplicationModel
from chaos.experiments.model import Experiment
from chaos.experiments.prepare import prepare_clients
from chaos.experiments.runner import ExperimentRun, RunOptions, pool_for
from chaos.results import RunResult
from chaos.validate.findings import TeamConfig
from chaos.validate.review import recommended
from chaos.workloads.spec import SHAPED_MODES

#: Records per second the matrix produces.
RATE = 500
#: The consumer's processing batch: a minute of traffic, so a consumer killed mid-run always dies
#: with a partly filled buffer (a minBatchSize as in Kafka's consumer examples, scaled so the outcome is certain).
BATCH = RATE * 60

#: The standard matrix: name → (what it does, its fault steps).
FAULTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "leader_kill": (
        "hard kill (SIGKILL) of the partition's leader while its followers lag (frozen 5 s before)",
        [
            {"kind": "broker_pause", "target": "followers", "at": 0, "duration": 8},
            {"kind": "broker_kill", "target": "leader", "at": 5, "duration": 20},
        ],
    ),
    "broker_isolation": (
        "network isolation of partition 0's leader from the other brokers and the controller for 15 s",
        [{"kind": "isolate", "target": "leader", "at": 0, "duration": 15}],
    ),
    "producer_kill": (
        "SIGKILL of the producer process, restarted 2 s later",
        [{"kind": "client_kill", "workload": "producer-p0", "at": 3, "duration": 2}],
    ),
    "consumer_kill": (
        "SIGKILL of the consumer process, restarted 3 s later",
        [{"kind": "client_kill", "workload": "consumer-c0", "at": 5, "duration": 3}],
    ),
    "client_blackhole": (
        "every client connection to every broker blackholed (toxiproxy timeout) for 10 s",
        [
            {
                "kind": "toxic",
                "type": "timeout",
                "stream": "both",
                "target": "all",
                "attributes": {"timeout": 0},
                "at": 2,
                "duration": 10,
            }
        ],
    ),
}


@dataclass(slots=True)
class MatrixRun:
    """One fault against one variant of the settings (``team`` or ``recommended``)."""

    fault: str
    variant: str
    result: RunResult
    description: str

    @property
    def passed(self) -> bool:
        """No loss at any stage and the run completed."""
        return self.result.verdict is not None and self.result.verdict.passed

    @property
    def status(self) -> str:
        """``PASS``, ``FAIL``, ``INCONCLUSIVE`` (the log read back could not be trusted) or ``ERROR``."""
        v = self.result.verdict
        if v is None:
            return "ERROR"
        if not v.conclusive:
            return "INCONCLUSIVE"
        return "PASS" if v.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        """For validate.json."""
        v = self.result.verdict
        return {
            "fault": self.fault,
            "variant": self.variant,
            "description": self.description,
            "status": self.status,
            "loss": v.loss.model_dump() if v else None,
            "unsure": v.trust.reasons if v else [],
            "anomalies": v.anomalies if v else None,
            "counts": v.counts.model_dump() if v else None,
            "error": self.result.error,
            "run_dir": str(self.result.run_dir),
            "seconds": round(self.result.seconds, 1),
            "application_logs": [
                f"{Path(self.result.run_dir).name}/{log}" for log in (v.application.logs if v and v.application else [])
            ],
        }


@dataclass(slots=True)
class Matrix:
    """Every run of the matrix."""

    runs: list[MatrixRun] = field(default_factory=list)
    seconds: float = 0.0


def _strategy(consumer: dict[str, str], commit: str) -> str:
    if consumer.get("enable.auto.commit", "true").strip().lower() == "true":
        return "auto"
    return commit


def experiment_for(
    fault: str,
    variant: str,
    settings: dict[str, dict[str, str]],
    cfg: TeamConfig,
    producer_mode: str,
    commit: str,
    app: ApplicationModel | None = None,
) -> Experiment:
    """The experiment that runs ``fault`` against ``settings`` (raises UsageError if they cannot run).
    With the team's ``app``, the application is the consumer: the consumer kill kills it, and a
    duplicate output fails the run as a loss does."""
    topic_config = {k: v for k, v in settings["topic"].items() if k not in ("partitions", "replication.factor")}
    replication = min(3, int(settings["topic"].get("replication.factor", cfg.replication_factor)))
    consumer = dict(settings["consumer"])
    # A killed member must be replaced within seconds, not after the 45 s default session timeout.
    consumer.setdefault("session.timeout.ms", "6000")
    consumer.setdefault("heartbeat.interval.ms", "1500")
    # leader_kill freezes both followers of the partition; with one partition they lead nothing else,
    # so a synchronous producer is not held up on another partition's frozen leader meanwhile.
    partitions = 1 if fault == "leader_kill" else min(cfg.partitions, 12)
    steps = FAULTS[fault][1]
    if app is not None:
        steps = [{**s, "workload": "application-0"} if s.get("workload") == "consumer-c0" else s for s in steps]
    return Experiment.model_validate(
        {
            "name": f"{fault}-{variant}".replace("_", "-"),
            "description": FAULTS[fault][0],
            "cluster": {"brokers": 3, "controllers": 1, "broker_config": settings["broker"]},
            "topic": {
                "name": f"v-{fault}-{variant}".replace("_", "-"),
                "partitions": partitions,
                "replication_factor": max(1, replication),
                "config": topic_config,
            },
            "producer": {"mode": producer_mode, "rate": RATE, "settings": settings["producer"], "client": cfg.client},
            **(
                {"application": app}
                if app is not None
                else {
                    "consumer": {
                        "strategy": _strategy(consumer, commit),
                        "batch_size": 1 if cfg.processing == "in-poll" else BATCH,
                        "process_ms": min(cfg.process_ms or 0, 60_000),
                        "settings": consumer,
                        "client": cfg.client,
                    }
                }
            ),
            "faults": steps,
            "phases": {"warmup": 3, "settle": 5},
            "expect": {"total_loss": 0, **({"duplicate_outputs": 0} if app is not None else {})},
        }
    )


@dataclass(frozen=True, slots=True)
class MatrixEntry:
    """One fault against one variant of the settings, as the experiment that runs it."""

    fault: str
    variant: str
    experiment: Experiment


def plan_matrix(
    cfg: TeamConfig,
    faults: Sequence[str],
    compare: bool,
    producer_mode: str = "sync",
    commit: str = "after_process",
    app: ApplicationModel | None = None,
    team_cluster: bool = False,
) -> list[MatrixEntry]:
    """Every run of the matrix, planned (no Docker): ``faults`` against the team's settings and,
    with ``compare``, against the recommended ones. On a ``team_cluster`` the broker settings are
    the cluster's own (the static review judges the file's), so no run asks for any.

    Raises:
        UsageError: the settings cannot run (a client would refuse them): an input error, found
            before any container starts.
    """
    if app is not None and producer_mode not in SHAPED_MODES:
        raise UsageError(
            f"--producer-mode {producer_mode} cannot write an application's input: use one of {', '.join(SHAPED_MODES)}"
        )
    variants = {
        "team": {
            "producer": cfg.producer_run,
            "consumer": cfg.consumer_run,
            "topic": cfg.topic_run,
            "broker": cfg.broker_run,
        }
    }
    if compare:
        variants["recommended"] = recommended(cfg)
    if team_cluster:
        variants = {name: {**settings, "broker": {}} for name, settings in variants.items()}
    return [
        MatrixEntry(fault, variant, experiment_for(fault, variant, settings, cfg, producer_mode, commit, app))
        for fault in faults
        for variant, settings in variants.items()
    ]


def run_matrix(entries: Sequence[MatrixEntry], cfg: TeamConfig, out_dir: Path, options: RunOptions) -> Matrix:
    """Run the planned ``entries`` on one fresh cluster, each on its own topic (``--cluster``: on
    that running cluster, reset first and left running; ``--bootstrap-servers``: on the team's).

    Raises:
        UsageError: ``--cluster`` names no running cluster, or one of another shape.
        InfrastructureError: the cluster could not be started or reset (runs that fail later are
            recorded).
    """
    from chaos.cluster import ClusterSpec, KafkaCluster

    matrix = Matrix()
    t0 = time.monotonic()
    spec = ClusterSpec(
        brokers=3,
        controllers=1,
        broker_config=dict(cfg.broker_run),
        kafka_version=options.kafka_version or entries[0].experiment.cluster.kafka_version,
    )
    given = pool_for(options, out_dir, [("the fault matrix", spec)]) if options.cluster or options.external else None
    prepare_clients([e.experiment for e in entries], options.kafka_version, options.client_version, options.progress)
    bus = options.bus()

    def run_all(cluster: KafkaCluster) -> None:
        for entry in entries:
            exp = entry.experiment
            run = ExperimentRun(exp, out_dir / exp.name, options, cluster=cluster, bus=bus)
            matrix.runs.append(MatrixRun(entry.fault, entry.variant, run.run(), FAULTS[entry.fault][0]))

    if given is not None:
        run_all(given.acquire(spec).cluster)
    else:
        with KafkaCluster(spec, run_dir=out_dir / "cluster", progress=options.progress) as cluster:
            run_all(cluster)
    matrix.seconds = time.monotonic() - t0
    return matrix
