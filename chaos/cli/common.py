"""What every command shares: output as text or JSON, progress, option helpers, picking a cluster."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chaos.errors import UsageError
from chaos.progress import Progress, StderrProgress, silent

if TYPE_CHECKING:
    from chaos.cluster.external import ExternalTarget
    from chaos.cluster.ssh_config import SshConfig
    from chaos.experiments.loading import LoadedExperiment

F = TypeVar("F", bound=Callable[..., Any])


def emit(data: object, as_json: bool, text: str) -> None:
    """Print ``data`` as JSON (``--json``) or ``text``."""
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def to_stderr(line: str) -> None:
    """Print ``line`` on stderr (where GitHub Actions reads workflow commands too, stdout staying
    the output's)."""
    click.echo(line, err=True)


def progress_for(quiet: bool) -> Progress:
    """Progress lines on stderr unless ``--quiet``."""
    return silent if quiet else StderrProgress()


def json_option(f: F) -> F:
    """``--json``: machine-readable output on stdout (progress stays on stderr)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def quiet_option(f: F) -> F:
    """``--quiet``: no progress lines."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")(f)


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict.

    Raises:
        UsageError: an item is not ``KEY=VALUE``.

    >>> parse_pairs(("a=1", " b = x "), "setting")
    {'a': '1', 'b': 'x'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {pair!r} is not KEY=VALUE: write e.g. min.insync.replicas=2")
        out[key.strip()] = value.strip()
    return out


def check_directory(path: Path, option: str) -> None:
    """Refuse ``path`` as the directory given to ``option`` when it, or a directory above it, is a
    file (it is created later if missing), before anything starts.

    Raises:
        UsageError: one sentence naming the path and the option.
    """
    if any(p.exists() and not p.is_dir() for p in (path, *path.parents)):
        raise UsageError(f"{path} is not a directory: give {option} a directory (it is created if missing)")


def releases_option(f: F) -> F:
    """``--kafka-version V[,V…]|X.Y.x|all``: the Kafka releases every experiment runs on."""
    return click.option(
        "--kafka-version",
        default=None,
        metavar="RELEASES",
        help="Run every experiment on these Kafka releases, side by side: a list such as 3.9.1,4.0.x,4.4.0 "
        "(X.Y.x: the latest patch of that line on Maven Central) or all (the latest patch of every line "
        "from 3.9 on). Images of a release are built once when missing. Default: each file's own.",
    )(f)


def client_version_option(f: F) -> F:
    """``--client-version V``: the Java client's release (kafka-clients), whatever the cluster's."""
    return click.option(
        "--client-version",
        default=None,
        metavar="RELEASE",
        help="The Java client's release (its kafka-clients jars), against any cluster release. "
        "Default: each file's client_version, else the cluster's release.",
    )(f)


def client_versions_option(f: F) -> F:
    """``--client-version V[,V…]``: the Java client's releases, side by side."""
    return click.option(
        "--client-version",
        default=None,
        metavar="RELEASES",
        help="The Java client's release (its kafka-clients jars), against any cluster release; a list, "
        "a line (4.0.x) or all runs every experiment once per client release, side by side. "
        "Default: each file's client_version, else the cluster's release.",
    )(f)


def resolve_releases(text: str | None, option: str = "--kafka-version") -> list[str]:
    """The releases ``option`` names, resolved (empty when not given).

    Raises:
        UsageError: a malformed release, a line Maven Central has no release of, or cluster releases
            asked for while ``KAFKA_CHAOS_KAFKA_IMAGE`` pins the image.
    """
    import os

    from chaos.images.releases import kafka_versions

    if text and option == "--kafka-version" and os.environ.get("KAFKA_CHAOS_KAFKA_IMAGE"):
        raise UsageError(
            "KAFKA_CHAOS_KAFKA_IMAGE pins every cluster to one image, whose release --kafka-version cannot "
            "change: unset it, or drop --kafka-version"
        )
    return kafka_versions(text, option=option)


def check_version(kafka_version: str | None) -> None:
    """Refuse an unknown Kafka release before anything starts (UsageError)."""
    if kafka_version:
        from chaos.images.recipes import check_kafka_version

        check_kafka_version(kafka_version)


def pick_run(run_id: str | None) -> str:
    """``run_id``, or the one running cluster's.

    Raises:
        UsageError: no cluster runs, or several do and none was named.
    """
    from chaos.cluster import running_runs
    from chaos.engine import docker_client

    if run_id:
        return run_id
    runs = running_runs(docker_client())
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise UsageError("no cluster is running: start one with `kafka-chaos cluster up`")
    raise UsageError(f"{len(runs)} clusters are running ({', '.join(runs)}): name one")


def cluster_option(f: F) -> F:
    """``--cluster RUN_ID``: run on a cluster already up instead of starting one."""
    return click.option(
        "--cluster",
        "cluster_id",
        default=None,
        metavar="RUN_ID",
        help="Run on this running cluster (e.g. from `kafka-chaos cluster up`; `kafka-chaos cluster status` "
        "lists them) instead of starting one: reset before each run, left running. Its shape must match.",
    )(f)


def client_path_option(f: F) -> F:
    """``--client-path proxy|direct``: how every run's clients reach the brokers, overriding the files."""
    return click.option(
        "--client-path",
        "client_path",
        type=click.Choice(["proxy", "direct"]),
        default=None,
        help="How every workload and the drain reach the brokers: through toxiproxy (proxy) or the brokers' own "
        "listeners (direct; a fault on the proxied path is then refused). Default: each file's client_path "
        "(proxy unless it says otherwise).",
    )(f)


def given_version(run_id: str) -> str:
    """The Kafka release of the running cluster ``run_id``.

    Raises:
        UsageError: no cluster with that run id runs.
    """
    from chaos.cluster import KafkaCluster

    return KafkaCluster.attach(run_id).spec.kafka_version


def external_options(f: F) -> F:
    """``--bootstrap-servers``, ``--client-config``, ``--allow-faults-on`` and ``--ssh-config``: run on
    a team's cluster."""
    f = click.option(
        "--ssh-config",
        "ssh_config",
        default=None,
        type=click.Path(path_type=Path),
        help="The team's hosts over SSH (a YAML file: each node's host, the login, how its Kafka process is "
        "found and started), for --bootstrap-servers with --allow-faults-on: brokers are then killed, frozen "
        "and cut off on their hosts (docs/external-clusters.md).",
    )(f)
    f = click.option(
        "--allow-faults-on",
        "allow_faults_on",
        default=None,
        metavar="CLUSTER_ID",
        help="Consent to faults that act on the team's cluster (Kafka's Admin API), given as the id the "
        "cluster reports; without it only client faults run there.",
    )(f)
    f = click.option(
        "--client-config",
        "client_config",
        default=None,
        type=click.Path(path_type=Path),
        help="A Java client properties file with the clients' security settings (TLS, SASL), for "
        "--bootstrap-servers; it is read where each client runs and never copied.",
    )(f)
    return click.option(
        "--bootstrap-servers",
        "bootstrap_servers",
        default=None,
        metavar="HOST:PORT,…",
        help="Run on a team's running cluster instead of starting one: only topics and groups under "
        "kafka-chaos- are created, and deleted after each run.",
    )(f)


def files_target(
    loaded: Sequence[LoadedExperiment],
    bootstrap: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None,
) -> ExternalTarget | None:
    """:func:`external_target` for a suite of ``loaded`` files, which may name a team's cluster
    themselves (``run`` and ``soak``).

    Raises:
        UsageError: as :func:`external_target`.
    """
    named = any(item.experiment.cluster.external for item in loaded)
    return external_target(bootstrap, client_config, allow_faults_on, ssh_config, files_name_one=named)


def external_target(
    bootstrap: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None = None,
    files_name_one: bool = False,
) -> ExternalTarget | None:
    """The :class:`~chaos.cluster.external.ExternalTarget` the options name (None: no
    ``--bootstrap-servers``). ``files_name_one``: the experiment files name a team's cluster, to
    which ``--allow-faults-on`` alone then applies.

    Raises:
        UsageError: ``--client-config``, or ``--allow-faults-on`` for no team's cluster, without
            ``--bootstrap-servers``, or a client config that is not accepted
            (:func:`chaos.workloads.security.load_client_config`), or an SSH config that is not
            (:func:`chaos.cluster.ssh_config.load_ssh_config`) or comes without ``--allow-faults-on``.
    """
    if bootstrap is None:
        consent = None if files_name_one else allow_faults_on
        ssh = None if files_name_one else ssh_config
        given = [
            n
            for n, v in (("--client-config", client_config), ("--allow-faults-on", consent), ("--ssh-config", ssh))
            if v
        ]
        if given:
            raise UsageError(f"{given[0]} is for a team's cluster: give its --bootstrap-servers too")
        return None
    from chaos.cluster.external import ExternalTarget
    from chaos.workloads.security import PLAINTEXT, load_client_config

    security = load_client_config(client_config) if client_config is not None else PLAINTEXT
    return ExternalTarget(bootstrap, security, allow_faults_on, ssh_hosts(ssh_config, allow_faults_on))


def ssh_hosts(path: Path | None, allow_faults_on: str | None) -> SshConfig | None:
    """The team's hosts ``--ssh-config`` names, checked (None: none named).

    Raises:
        UsageError: the file is not accepted, or there is no consent to faults it would serve.
    """
    if path is None:
        return None
    if allow_faults_on is None:
        raise UsageError(
            "--ssh-config reaches the team's hosts for faults, which need the team's consent: add "
            "--allow-faults-on with the cluster's id (`kafka-chaos cluster status --bootstrap-servers …` shows it)"
        )
    from chaos.cluster.ssh_config import load_ssh_config

    return load_ssh_config(path)
