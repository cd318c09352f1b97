"""A dynamic KRaft quorum (KIP-853): voters named at format time with their metadata log
directories' ids, and spare controllers that start as observers, so that a voter can be added and
removed under load (``kafka-metadata-quorum add-controller`` / ``remove-controller``).

A static quorum (``controller.quorum.voters``) fixes its voters for good; a dynamic one is found
through ``controller.quorum.bootstrap.servers`` and formatted with ``--initial-controllers``, each
voter as ``id@host:port:directory-id``. The directory ids are derived from the cluster id and the
node id, so the format of every node agrees without a round trip, and a fault that removes or adds a
voter can name one without asking it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Protocol


class Controller(Protocol):
    """A controller node as the quorum's wiring needs it."""

    @property
    def node_id(self) -> int: ...

    @property
    def host(self) -> str: ...


def directory_id(cluster_id: str, node_id: int) -> str:
    """The metadata log directory id of ``node_id``: a Kafka ``Uuid`` (16 bytes, URL-safe base64
    without padding) that is neither of the reserved ones nor starts with ``-``.

    >>> directory_id("MkU3OEVBNTcwNTJENDM2Qg", 1001) == directory_id("MkU3OEVBNTcwNTJENDM2Qg", 1001)
    True
    >>> len(directory_id("MkU3OEVBNTcwNTJENDM2Qg", 1001)), directory_id("x", 1) != directory_id("x", 2)
    (22, True)
    """
    salt = 0
    while True:
        digest = hashlib.sha256(f"{cluster_id}/{node_id}/{salt}".encode()).digest()[:16]
        text = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if not text.startswith("-") and digest not in (bytes(16), bytes(15) + b"\x01"):
            return text
        salt += 1


def initial_controllers(cluster_id: str, voters: Sequence[Controller], port: int) -> str:
    """The value of ``kafka-storage format --initial-controllers``.

    >>> class C:
    ...     def __init__(self, node_id: int, host: str) -> None: self.node_id, self.host = node_id, host
    >>> initial_controllers("c", [C(1001, "controller-1")], 9093).startswith("1001@controller-1:9093:")
    True
    """
    return ",".join(f"{v.node_id}@{v.host}:{port}:{directory_id(cluster_id, v.node_id)}" for v in voters)


def format_arguments(cluster_id: str, node_id: int, voters: Sequence[Controller], port: int) -> str:
    """What a node of a dynamic quorum adds to its storage format: the initial voters, for a voter;
    none, for a spare controller or a broker (``--no-initial-controllers``: it finds the quorum
    through its bootstrap servers). Every node formats its metadata directory with its own id."""
    if any(v.node_id == node_id for v in voters):
        return f"--initial-controllers {initial_controllers(cluster_id, voters, port)}"
    return "--no-initial-controllers"
