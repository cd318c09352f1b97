"""Labels and names for everything the harness creates in Docker.

Every container and network carries ``kafka-chaos.run=<run-id>``; the sweeper never touches a
resource without it. Images carry ``kafka-chaos.image=<kind>`` instead: they are kept between runs on
purpose and only ``kafka-chaos clean --images`` removes them.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

RUN_LABEL = "kafka-chaos.run"
ROLE_LABEL = "kafka-chaos.role"
NODE_LABEL = "kafka-chaos.node-id"
SPEC_LABEL = "kafka-chaos.spec"
IMAGE_LABEL = "kafka-chaos.image"
RECIPE_LABEL = "kafka-chaos.recipe"

NAME_PREFIX = "kafka-chaos"

_RUN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,47}$")


def new_run_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """Return a fresh run id such as ``20261127-010455-3fa2``: sortable by time, unique enough.

    >>> new_run_id(datetime(2026, 11, 27, 1, 4, 55, tzinfo=UTC), "3fa2")
    '20261127-010455-3fa2'
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{suffix if suffix is not None else secrets.token_hex(2)}"


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` unchanged if it can name Docker resources and a run directory.

    Raises:
        ValueError: it has characters Docker names or paths cannot carry, or a bad length.
    """
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} is not usable: use 3-48 lowercase letters, digits and dashes")
    return run_id


def run_labels(run_id: str, role: str | None = None, node_id: int | None = None) -> dict[str, str]:
    """Labels for one resource of a run.

    >>> run_labels("r-1", "broker", 2)
    {'kafka-chaos.run': 'r-1', 'kafka-chaos.role': 'broker', 'kafka-chaos.node-id': '2'}
    """
    labels = {RUN_LABEL: run_id}
    if role is not None:
        labels[ROLE_LABEL] = role
    if node_id is not None:
        labels[NODE_LABEL] = str(node_id)
    return labels


def run_filter(run_id: str | None = None, role: str | None = None) -> dict[str, str | list[str] | bool]:
    """A Docker ``filters=`` argument selecting one run's resources (or every run's), optionally of
    one role (``network``, ``broker``, ``toxiproxy`` …).

    >>> run_filter("r1", role="network")
    {'label': ['kafka-chaos.run=r1', 'kafka-chaos.role=network']}
    """
    labels = [RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}"]
    if role is not None:
        labels.append(f"{ROLE_LABEL}={role}")
    return {"label": labels}


def resource_name(run_id: str, what: str) -> str:
    """Docker name of a run's resource, e.g. ``kafka-chaos-<run>-broker-1``."""
    return f"{NAME_PREFIX}-{run_id}-{what}"
