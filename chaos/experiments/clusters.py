"""Which clusters the runs of a suite, a search or a matrix use (:func:`pool_for`), and in what order
the runs go (:func:`by_shape`): the harness's own clusters, one given with ``--cluster``, or a team's
external cluster (:class:`ExternalPool`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from chaos.cluster import ClusterSpec, KafkaCluster
from chaos.cluster.external import ExternalCluster, ExternalTarget, namespace
from chaos.cluster.ssh_config import load_ssh_config
from chaos.errors import UsageError
from chaos.experiments.loading import LoadedExperiment
from chaos.experiments.model import Experiment
from chaos.experiments.options import RunOptions
from chaos.experiments.pool import ClusterPool, Lease, check_fits, shape
from chaos.faults.backends import (
    CLIENT_NETWORK_KINDS,
    DOCKER,
    HOST_NETWORK_KINDS,
    Backend,
    check_kinds,
    external_backend,
)
from chaos.faults.schedule import RANDOM_KINDS
from chaos.labels import new_run_id
from chaos.progress import Progress, silent
from chaos.workloads.netns import check_can
from chaos.workloads.security import PLAINTEXT, load_client_config

log = logging.getLogger(__name__)


class ExternalPool(ClusterPool):
    """A team's cluster for every run: connected once, never reset or removed. What a run leaves
    behind is its own topics and groups, which :func:`leave` deletes."""

    def __init__(self, cluster: ExternalCluster, progress: Progress = silent) -> None:
        super().__init__(lambda spec: cluster, progress=progress)
        self.cluster = cluster

    def acquire(self, spec: ClusterSpec) -> Lease:
        """The team's cluster, whatever ``spec`` says: its brokers' settings are its own."""
        del spec
        return Lease(self.cluster, "external", [])

    def release(self, lease: Lease, broken: bool = False) -> None:
        """Nothing to give back: the cluster is the team's."""

    def close_idle(self) -> None:
        """The team's cluster is not the pool's to remove."""

    def close(self) -> None:
        """Close the admin connections; the cluster keeps running."""
        self.cluster.close()


def leave(cluster: ExternalCluster, run_id: str) -> list[str]:
    """Delete the topics and groups run ``run_id`` created on a team's cluster; returns them.

    Raises:
        KafkaError: the cluster refused a deletion.
    """
    return cluster.remove_own(namespace(run_id))


def pool_for(options: RunOptions, base: Path, wanted: Sequence[tuple[str, ClusterSpec]]) -> ClusterPool:
    """The clusters a suite, a search or a matrix runs on: a team's (``--bootstrap-servers``,
    connected now), the one given with ``--cluster`` (checked against each ``(name, spec)`` wanted
    before anything runs), else one per shape, started under ``base``.

    Raises:
        UsageError: no cluster of that run id runs, it is not of a wanted shape, ``--fresh-cluster``
            was asked for as well, or the team's cluster did not answer or is not the one consented to.
    """
    if options.external is not None:
        return _external(options, base)
    if options.cluster is None:
        return ClusterPool.under(base, fresh=options.fresh_cluster, progress=options.progress)
    if options.fresh_cluster:
        raise UsageError("--cluster runs on a cluster already up and --fresh-cluster starts new ones: pick one")
    cluster = KafkaCluster.attach(options.cluster, run_dir=Path(base) / "clusters" / options.cluster)
    for name, spec in wanted:
        check_fits(cluster, spec, name)
    return ClusterPool.given(cluster, progress=options.progress)


def by_shape(loaded: Sequence[LoadedExperiment], kafka_version: str | None = None) -> list[LoadedExperiment]:
    """The experiments grouped by cluster shape, shapes in the order they first appear and the
    experiments of a shape in their own order, so a suite starts each shape's cluster once."""
    groups: dict[str, list[LoadedExperiment]] = {}
    for item in loaded:
        groups.setdefault(shape(item.experiment.cluster.spec(kafka_version)), []).append(item)
    return [item for group in groups.values() for item in group]


def _external(options: RunOptions, base: Path) -> ExternalPool:
    """The pool of a team's cluster, connected and checked. Raises UsageError (see :func:`pool_for`)."""
    assert options.external is not None
    if options.cluster is not None or options.fresh_cluster:
        which = "--cluster" if options.cluster is not None else "--fresh-cluster"
        raise UsageError(f"--bootstrap-servers runs on a team's cluster and {which} on the harness's: pick one")
    run_id = new_run_id()
    cluster = ExternalCluster(
        options.external,
        kafka_version=options.kafka_version,
        run_id=run_id,
        run_dir=Path(base) / "clusters" / run_id,
        progress=options.progress,
    )
    cluster.start()
    options.progress(
        f"external cluster {cluster.cluster_id} at {options.external.bootstrap}: {len(cluster.remote)} brokers, "
        f"fault backend {backend_of(cluster).name}"
    )
    return ExternalPool(cluster, options.progress)


def with_files_cluster(options: RunOptions, experiments: Sequence[Experiment]) -> RunOptions:
    """``options`` with the team's cluster the files name (``cluster: {external: …}``), unless the
    command line named one (``--bootstrap-servers`` wins, as ``--kafka-version`` does).

    Raises:
        UsageError: some files name a team's cluster and others another or none (a suite runs on
            one), or the client config it names is not accepted.
    """
    named = {
        (e.cluster.external.bootstrap_servers, e.cluster.external.client_config, e.cluster.external.ssh_config)
        for e in experiments
        if e.cluster.external
    }
    if options.external is not None or not named:
        return options
    if len(named) > 1 or any(e.cluster.external is None for e in experiments):
        raise UsageError(
            "some files name a team's cluster (cluster: {external: …}) and others another or none: a suite runs on "
            "one cluster, so run them apart, or pass --bootstrap-servers for all"
        )
    ((bootstrap, config, ssh),) = named
    security = load_client_config(config) if config is not None else PLAINTEXT
    # The hosts serve faults, which need consent: without it they are not reached (client faults only).
    hosts = load_ssh_config(ssh) if ssh is not None and options.allow_faults_on is not None else None
    return replace(options, external=ExternalTarget(bootstrap, security, options.allow_faults_on, hosts))


def refuse_files_cluster(exp: Experiment) -> None:
    """Refuse to run ``exp`` on a cluster the harness starts when its file names a team's.

    Raises:
        UsageError: it does.
    """
    if exp.cluster.external is not None:
        raise UsageError(
            f"{exp.name} names a team's cluster (cluster: {{external: …}}), and this run would start one of the "
            "harness's: run it with `kafka-chaos run`"
        )


def backend_of(cluster: KafkaCluster) -> Backend:
    """The fault backend of ``cluster``: docker for the harness's own, else what the team consented to."""
    if not isinstance(cluster, ExternalCluster):
        return DOCKER
    return external_backend(cluster.faults_allowed, bool(cluster.hosts))


def fault_kinds(exp: Experiment) -> set[str]:
    """Every fault kind ``exp`` may inject: its faults' and its random faults'."""
    kinds = {f.kind for f in exp.faults}
    if exp.random_faults is not None:
        kinds |= {str(k["kind"]) for k in exp.random_faults.kinds or RANDOM_KINDS}
    return kinds


def check_machine(exp: Experiment) -> None:
    """Refuse ``exp`` when it has a client network fault and this machine cannot give its workloads
    network namespaces (:func:`chaos.workloads.netns.check_can`). Raises UsageError."""
    if fault_kinds(exp) & CLIENT_NETWORK_KINDS:
        check_can()


def check_backend(exp: Experiment, cluster: KafkaCluster) -> None:
    """Refuse ``exp`` on ``cluster`` when its backend cannot perform one of its fault kinds, or it
    runs a team's application (in a container of this machine's engine), before anything starts.

    Raises:
        UsageError: naming the kind and the backend (:func:`chaos.faults.backends.check_kinds`), or
            a client network fault on a machine that cannot give workloads namespaces.
    """
    check_machine(exp)
    if not isinstance(cluster, ExternalCluster):
        refuse_files_cluster(exp)
        return
    if exp.application is not None:
        raise UsageError(
            f"{exp.name} runs an application in a container, which reaches only the harness's own clusters: "
            "run it without --bootstrap-servers"
        )
    _check_transactions(exp)
    drawn = exp.random_faults.kinds or [] if exp.random_faults is not None else []
    for kind, params in [*((f.kind, f.params) for f in exp.faults), *((str(k.get("kind")), k) for k in drawn)]:
        if "topic" in params:
            raise UsageError(
                f"{exp.name}'s fault {kind} names topic {params['topic']}: on a team's cluster a fault "
                "acts on the run's own topic only; remove topic"
            )
    hint = f"pass --allow-faults-on {cluster.cluster_id} if the team agrees to faults on this cluster"
    check_kinds(fault_kinds(exp), backend_of(cluster), exp.name, hint)
    if cluster.hosts and cluster.target.ssh is not None:
        _check_expiry(exp, cluster.target.ssh.rule_expiry)
    _check_settings_in_force(exp, cluster)


def _check_expiry(exp: Experiment, expiry: float) -> None:
    """Refuse a freeze or network fault that would outlast what its watchdog allows on a host: the
    host would undo it early, and the run would go on as if it held.

    Raises:
        UsageError: naming the fault, its duration and ``rule_expiry``.
    """
    margin = 30.0
    guarded = {"broker_pause", *HOST_NETWORK_KINDS}
    steps = [(f.kind, f.duration) for f in exp.faults if f.kind in guarded]
    if exp.random_faults is not None:
        drawn = {str(k.get("kind")) for k in exp.random_faults.kinds or RANDOM_KINDS}
        steps += [(kind, exp.random_faults.max_duration) for kind in sorted(drawn & guarded)]
    for kind, duration in steps:
        if duration is None or duration > expiry - margin:
            lasts = "to the end of the run" if duration is None else f"{duration:g} s"
            raise UsageError(
                f"{exp.name}'s fault {kind} lasts {lasts}, and its hosts undo it {expiry:g} s after it starts "
                f"(rule_expiry): give it a duration under {expiry - margin:g} s, or raise rule_expiry in the SSH config"
            )


def _check_transactions(exp: Experiment) -> None:
    """Refuse transactions on a team's cluster: a transaction's markers are verified with Kafka's
    segment dump of the leader's files (a verdict without it is inconclusive), and a
    ``transactional.id`` of the file's own would fence whichever producer of the team holds it.

    Raises:
        UsageError: naming what asks for a transaction.
    """
    sections = [s for s in (exp.producer, exp.consumer) if s is not None]
    named = [s for s in sections if "transactional.id" in s.settings]
    if exp.consumer is not None and "transactional.id" in exp.consumer.output_settings:
        named.append(exp.consumer)
    if named:
        raise UsageError(
            f"{exp.name} sets transactional.id, which on a team's cluster could fence the team's own producer "
            "of that id: remove it (the harness names its transactional ids under kafka-chaos-)"
        )
    writes = exp.producer.mode == "transactional" or (exp.consumer and exp.consumer.strategy == "transactional")
    if writes:
        raise UsageError(
            f"{exp.name} writes transactions, whose markers the verdict checks with Kafka's segment dump of the "
            "leader's files, which a team's cluster does not give: run it on a cluster the harness starts"
        )


def _check_settings_in_force(exp: Experiment, cluster: ExternalCluster) -> None:
    """Refuse ``exp`` when its ``cluster:`` section sets broker settings or feature levels the
    team's cluster does not have: the harness cannot set them there, and the verdict would be
    reported for settings it was not measured under.

    Raises:
        UsageError: naming the first setting that differs, the file's value and the cluster's.
        KafkaError: the cluster did not answer.
    """
    wanted = {k: str(v).lower() for k, v in exp.cluster.broker_config.items()}
    if wanted:
        have = cluster.broker_settings()
        for key, value in sorted(wanted.items()):
            if have.get(key, "").lower() != value:
                raise UsageError(
                    f"{exp.name} wants broker setting {key}={value}, and the cluster at {cluster.bootstrap_servers} "
                    f"has {have.get(key, 'none')}: the harness cannot change a team's brokers; run it where that holds"
                )
    if exp.cluster.features:
        levels = cluster.feature_levels()
        for name, level in sorted(exp.cluster.features.items()):
            if levels.get(name, 0) != level:
                raise UsageError(
                    f"{exp.name} wants feature {name} at level {level}, and the cluster at "
                    f"{cluster.bootstrap_servers} has {levels.get(name, 0)}: run it where that holds"
                )
