"""Remove what runs left behind: every container and network carrying the run label, the client
files of a secure cluster and the SSH files of a cluster with sshd (outside Docker, under the cache:
:func:`chaos.cluster.secure.client_dir`, :func:`chaos.cluster.sshd.ssh_dir`), and the workloads'
network namespaces with this machine's rules for them (:func:`chaos.workloads.netns.sweep`).

A resource without the ``kafka-chaos.run`` label is never touched. Containers go first (a network
with endpoints cannot be removed), force-removed so a paused or running one goes too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from docker.errors import APIError, NotFound

import docker
from chaos.cluster.secure import remove_client_files
from chaos.cluster.sshd import remove_ssh_files
from chaos.errors import InfrastructureError
from chaos.labels import IMAGE_LABEL, RUN_LABEL, run_filter
from chaos.workloads.netns import sweep as sweep_namespaces


@dataclass(slots=True)
class SweepResult:
    """Names of what a sweep removed, and what it could not."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    #: Client directories of secure clusters (their CA and client properties).
    client_files: list[str] = field(default_factory=list)
    #: SSH directories of clusters with sshd (their client key, known_hosts and ssh.yaml).
    ssh_files: list[str] = field(default_factory=list)
    #: Workloads' network namespaces and this machine's rules for them (:mod:`chaos.workloads.netns`).
    namespaces: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        """Plain dict for ``--json`` output."""
        return {
            "containers": self.containers,
            "networks": self.networks,
            "images": self.images,
            "failures": self.failures,
            "client_files": self.client_files,
            "ssh_files": self.ssh_files,
            "namespaces": self.namespaces,
        }


def sweep(client: docker.DockerClient, run_id: str | None = None, images: bool = False) -> SweepResult:
    """Remove the labelled containers and networks of ``run_id`` (every run's when ``None``), then its
    secure listener's client files, its SSH files and its workloads' namespaces (every run's when ``None``).

    With ``images`` also remove the images the harness built. Never raises for a resource that
    vanished meanwhile; other failures are collected in :attr:`SweepResult.failures`.
    """
    result = SweepResult()
    for container in client.containers.list(all=True, filters=run_filter(run_id)):
        if RUN_LABEL not in container.labels:  # belt and braces: never touch an unlabelled one
            continue
        try:
            container.remove(force=True, v=True)
            result.containers.append(container.name or container.id or "?")
        except NotFound:
            pass
        except APIError as e:
            result.failures.append(f"container {container.name}: {e.explanation}")
    for network in client.networks.list(filters=run_filter(run_id)):
        try:
            network.remove()
            result.networks.append(network.name or network.id or "?")
        except NotFound:
            pass
        except APIError as e:
            result.failures.append(f"network {network.name}: {e.explanation}")
    result.client_files = remove_client_files(run_id)
    result.ssh_files = remove_ssh_files(run_id)
    try:
        result.namespaces = sweep_namespaces(run_id)
    except InfrastructureError as e:
        result.failures.append(str(e))
    if images:
        for image in client.images.list(filters={"label": [IMAGE_LABEL]}):
            for tag in image.tags:
                try:
                    client.images.remove(tag, force=True)
                    result.images.append(tag)
                except NotFound:
                    pass
                except APIError as e:
                    result.failures.append(f"image {tag}: {e.explanation}")
    return result
