"""``kafka-chaos clean`` and ``doctor``: remove what runs left behind; say what is missing."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chaos.cli.common import emit, external_options, external_target, json_option
from chaos.errors import ChaosError, UsageError

if TYPE_CHECKING:
    from chaos.cluster.external import ExternalTarget


@click.command()
@click.option("--images", "with_images", is_flag=True, help="Also remove the images the harness built.")
@click.option("--run-id", default=None, help="Only this run's resources (default: every run's).")
@external_options
@json_option
def clean(
    with_images: bool,
    run_id: str | None,
    bootstrap_servers: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None,
    as_json: bool,
) -> None:
    """Remove every container and network runs left behind (all carry kafka-chaos.run), and the
    files of secure clusters and of clusters with sshd (under the cache); with ``--bootstrap-servers``,
    the topics and groups runs left on a team's cluster instead (only names under kafka-chaos-), and
    with ``--ssh-config`` first what they left on its hosts (rules, watchdogs, a frozen or killed Kafka)."""
    from chaos.workloads.netns import sweep as sweep_namespaces

    # First, and without Docker or a cluster: the workloads' namespaces are this machine's.
    namespaces = sweep_namespaces(run_id)
    target = external_target(bootstrap_servers, client_config, allow_faults_on, ssh_config)
    if target is not None:
        _clean_external(target, run_id, with_images, as_json, namespaces)
        return
    from chaos.cluster.spread import sweep_everywhere
    from chaos.engine import docker_client

    result = sweep_everywhere(docker_client(), run_id, docker_client, images=with_images)
    result.namespaces = namespaces + result.namespaces
    text = (
        f"removed {len(result.containers)} containers, {len(result.networks)} networks"
        + (f", {len(result.images)} images" if with_images else "")
        + (f", {len(result.client_files)} secure clusters' client files" if result.client_files else "")
        + (f", {len(result.ssh_files)} clusters' SSH files" if result.ssh_files else "")
        + (f", {len(result.namespaces)} workload namespaces and rules" if result.namespaces else "")
    )
    emit(result.as_dict(), as_json, text)
    if result.failures:
        raise ChaosError("could not remove: " + "; ".join(result.failures))


def _clean_external(
    target: ExternalTarget, run_id: str | None, with_images: bool, as_json: bool, here: list[str]
) -> None:
    """Delete the topics and groups under the harness's prefix (a run's only, with ``run_id``); ``here``
    is what was removed from this machine already (the workloads' namespaces).

    Raises:
        UsageError: ``--images`` as well (a team's cluster has none of the harness's), or the cluster
            did not answer.
        ChaosError: the cluster refused a deletion.
    """
    from kafka.errors import KafkaError

    from chaos.cluster.external import PREFIX, ExternalCluster, namespace

    if with_images:
        raise UsageError("--images removes this machine's images, not a team's cluster's: clean them separately")
    if run_id is not None and not re.fullmatch(r"\d{8}-\d{6}-[0-9a-z]{4}", run_id):
        raise UsageError(
            f"--run-id {run_id} is not a whole run id (like 20261206-010203-ab12, run.json's run_id): "
            "give one, or none to delete everything under kafka-chaos-"
        )
    cluster = ExternalCluster(target)
    try:
        cluster.start(check_hosts=False)  # a Kafka the harness killed runs nowhere: clean starts it
        # The hosts first: a broker the harness left frozen or cut off would hold up the deletions.
        on_hosts = cluster.clean_hosts()
        removed = cluster.remove_own(namespace(run_id) if run_id else PREFIX)
    except KafkaError as e:
        raise ChaosError(f"the cluster at {target.bootstrap} refused a deletion: {type(e).__name__}: {e}") from None
    finally:
        cluster.close()
    undone = "".join(f"; on {host}: {', '.join(found)}" for host, found in on_hosts.items() if found)
    undone += f"; on this machine: {len(here)} workload namespaces and rules" if here else ""
    emit(
        {"removed": removed, "hosts": on_hosts, "namespaces": here},
        as_json,
        f"removed {len(removed)} topics and groups from {target.bootstrap}{undone}",
    )


@click.command()
@json_option
def doctor(as_json: bool) -> None:
    """Say what is present and what to do about what is missing.

    Exit code: 0 everything required is present, 3 something required is missing.
    """
    from chaos import doctor as checks

    found = checks.diagnose()
    emit(checks.as_dict(found), as_json, "\n".join(c.line() for c in found))
    if not checks.healthy(found):
        sys.exit(3)
