"""The logs of a run's containers, read from the engine by the run's labels (every restart of each
container), and copied into a run directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from docker.errors import APIError, NotFound

import docker
from chaos.errors import UsageError
from chaos.labels import resource_name, run_filter


def node_logs(
    client: docker.DockerClient,
    run_id: str,
    hosts: Sequence[str] = (),
    tail: int | None = None,
    since: float | None = None,
) -> dict[str, str]:
    """The logs of run ``run_id``'s containers, by node name (``broker-2``, ``toxiproxy``), all of
    them or only ``hosts``; ``tail``: only the last lines of each; ``since``: only what was logged
    from that Unix time on. A container removed meanwhile is left out.

    Raises:
        UsageError: a name in ``hosts`` is not a node of this run (the message names those there are).
    """
    containers = client.containers.list(all=True, filters=run_filter(run_id))
    prefix = resource_name(run_id, "")
    by_host = {(c.name or c.id or "unknown").removeprefix(prefix): c for c in containers}
    unknown = sorted(set(hosts) - set(by_host))
    if unknown:
        raise UsageError(f"cluster {run_id} has no node {unknown[0]!r}: it has {', '.join(sorted(by_host))}")
    out: dict[str, str] = {}
    for host in sorted(hosts or by_host):
        try:
            text = by_host[host].logs(tail=tail if tail is not None else "all", since=since)
            out[host] = text.decode(errors="replace")
        except (NotFound, APIError):
            continue
    return out


def collect_logs(client: docker.DockerClient, run_id: str, into: Path, since: float | None = None) -> list[Path]:
    """Copy every container's log of run ``run_id`` into ``<into>/logs/<node>.log`` (``since``: only
    what was logged from that Unix time on); returns the files written.

    Raises:
        OSError: a file could not be written.
    """
    written: list[Path] = []
    logs = into / "logs"
    for host, text in node_logs(client, run_id, since=since).items():
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"{host}.log"
        path.write_text(text)
        written.append(path)
    return written
