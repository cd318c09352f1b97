"""Changes of a dynamic KRaft quorum's voters under load (KIP-853), as an operator makes them with
Kafka's own ``kafka-metadata-quorum`` tool, run in the controllers' containers:

* ``voter_add``: a spare controller (``node``, else the first controller that is no voter: an
  observer of a ``quorum: dynamic`` cluster with ``spare_controllers``) becomes a voter
  (``add-controller``, run on it); healing removes it again.
* ``voter_remove``: a voter (``node``, else the lowest-numbered voter that is not the active
  controller) stops being one (``remove-controller``); it goes on running as an observer, and
  healing adds it back. (Kafka 3.9.1's tool timed out removing the active controller, "waiting for
  a node assignment"; 4.4.0's did not.)

Each waits until the quorum's description shows the change (``CurrentVoters``), so the fault is in
force when it returns, and so is its heal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, ClassVar

from chaos.cluster import KafkaCluster
from chaos.cluster.config import CONTROLLER_PORT, DATA_DIR
from chaos.cluster.node import Node
from chaos.cluster.toolbox import TOOL_JAVA
from chaos.errors import ChaosError, UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, register
from chaos.waiting import wait_until

#: Kafka's quorum tool (``kafka-metadata-quorum.sh``).
QUORUM_TOOL = "org.apache.kafka.tools.MetadataQuorumCommand"
#: Seconds a change of voters may take to show.
CHANGE_TIMEOUT = 60.0
#: Times the tool is run for one change.
ATTEMPTS = 3
_VOTERS = re.compile(r"^CurrentVoters:\s*(\[.*\])\s*$", re.MULTILINE)
_LEADER = re.compile(r"^LeaderId:\s*(-?\d+)\s*$", re.MULTILINE)


def _controllers(cluster: KafkaCluster) -> list[Node]:
    return [n for n in cluster.nodes if n.spec.controller and not n.spec.broker]


def _tool(cluster: KafkaCluster, on: Node, *args: str) -> str:
    """Run the quorum tool in ``on``'s container, bootstrapping from the running initial voters: a
    spare controller removed while it led the quorum can go on answering that it does, and a tool
    that asked it waits for a leader that is gone ("Timed out waiting for a node assignment").

    Raises:
        FaultError: the tool failed.
    """
    running = [n for n in _controllers(cluster) if n.is_running and n.spec.voter]
    bootstrap = ",".join(f"{n.host}:{CONTROLLER_PORT}" for n in running)
    cmd = ["sh", "-c", f'{TOOL_JAVA} "$@"', "sh", QUORUM_TOOL, "--bootstrap-controller", bootstrap, *args]
    code, text = on.exec(cmd)
    if code != 0:
        raise FaultError(f"kafka-metadata-quorum {args[0]} on {on.host} failed (exit {code}): {text[-500:]}")
    return text


def voters(cluster: KafkaCluster, on: Node) -> set[int]:
    """The node ids of the quorum's voters, as the quorum tool describes them now.

    Raises:
        FaultError: the tool failed or printed no voters.
    """
    return described(_tool(cluster, on, "describe", "--status"), on.host)[1]


def described(text: str, host: str = "?") -> tuple[int, set[int]]:
    r"""The leader and the voters in what ``kafka-metadata-quorum describe --status`` printed.

    >>> described('LeaderId: 1002\nCurrentVoters: [{"id": 1001, "directoryId": "x"}, {"id": 1002}]\n')
    (1002, {1001, 1002})

    Raises:
        FaultError: no leader or no voters in it.
    """
    found, leader = _VOTERS.search(text), _LEADER.search(text)
    if found is None or leader is None:
        raise FaultError(f"kafka-metadata-quorum describe printed no leader or voters on {host}: {text[-300:]}")
    listed: list[Any] = json.loads(found[1])  # [{"id": 1001, ...}] from 3.9 on; [1001, ...] before
    return int(leader[1]), {int(v["id"]) if isinstance(v, dict) else int(v) for v in listed}


def directory_id(node: Node) -> str:
    """The id of ``node``'s metadata log directory (its ``meta.properties``).

    Raises:
        FaultError: it could not be read.
    """
    code, text = node.exec(["sh", "-c", f"sed -n 's/^directory.id=//p' {DATA_DIR}/meta.properties"])
    if code != 0 or not text.strip():
        raise FaultError(f"{node.host} has no directory.id in {DATA_DIR}/meta.properties: {text[-200:]}")
    return text.strip().splitlines()[-1]


class _VoterChange(Fault):
    """A change of voters: the node it is about, and the two moves (make it a voter, or not)."""

    params: ClassVar[Mapping[str, Any]] = {"node": int}

    #: Whom the fault is about when the file names no node: a voter (``voter_remove``) or not.
    picks_voter: ClassVar[bool] = False

    def _node(self, ctx: FaultContext) -> Node:
        """The controller the change is about, chosen once (its heal undoes the change on it).

        Raises:
            UsageError: no dynamic quorum, a node that is no dedicated controller, or none to choose.
        """
        if ctx.cluster.spec.quorum != "dynamic":
            raise UsageError(f"fault {self.kind} needs a dynamic quorum: set cluster quorum: dynamic")
        if "node" in self.p:
            node = ctx.cluster.node(int(self.p["node"]))
        else:
            ask = next(n for n in _controllers(ctx.cluster) if n.is_running and n.spec.voter)
            leader, now = described(_tool(ctx.cluster, ask, "describe", "--status"), ask.host)
            pick = [n for n in _controllers(ctx.cluster) if (n.node_id in now) == self.picks_voter]
            pick = [n for n in pick if n.node_id != leader]
            if not pick:
                raise UsageError(f"fault {self.kind}: no controller to choose (voters {sorted(now)}, leader {leader})")
            node = pick[0]
        if not node.spec.controller or node.spec.broker:
            raise UsageError(f"fault {self.kind}: node {node.node_id} is not a dedicated controller")
        self.targets, self._chosen = [node.host], node
        return node

    def _add(self, ctx: FaultContext, node: Node) -> None:
        self._change(ctx, node, True, node, "--command-config", "/kafka-chaos/server.properties", "add-controller")

    def _remove(self, ctx: FaultContext, node: Node) -> None:
        ask = next(n for n in _controllers(ctx.cluster) if n.is_running and n.spec.voter)
        args = ("remove-controller", "--controller-id", str(node.node_id))
        self._change(ctx, node, False, ask, *args, "--controller-directory-id", directory_id(node))

    def _change(self, ctx: FaultContext, node: Node, voter: bool, on: Node, *args: str) -> None:
        """Run the tool (up to :data:`ATTEMPTS` times, while the quorum does not show the change: an
        election under way can time one out), then wait until the quorum shows it.

        Raises:
            FaultError: every attempt failed and the quorum does not show the change.
        """
        for attempt in range(1, ATTEMPTS + 1):
            try:
                _tool(ctx.cluster, on, *args)
                break
            except FaultError:
                ask = next(n for n in _controllers(ctx.cluster) if n.is_running and n.spec.voter)
                with suppress(ChaosError):
                    if (node.node_id in voters(ctx.cluster, ask)) == voter:
                        break  # the change landed; its answer did not
                if attempt == ATTEMPTS:
                    raise
        self._wait(ctx, node, voter)

    def _wait(self, ctx: FaultContext, node: Node, voter: bool) -> None:
        ask = next(n for n in _controllers(ctx.cluster) if n.is_running and n.spec.voter)
        seen: list[set[int]] = []

        def changed() -> bool:
            try:
                seen.append(voters(ctx.cluster, ask))
            except ChaosError:
                return False
            return (node.node_id in seen[-1]) == voter

        what = f"{node.host} to {'become' if voter else 'stop being'} a voter"
        wait_until(
            changed, CHANGE_TIMEOUT, what, interval=1.0, seen=lambda: f"voters {sorted(seen[-1]) if seen else '?'}"
        )
        assert ctx.timeline is not None
        ctx.timeline.record("voters", self, voters=sorted(seen[-1]))


@register
class VoterAdd(_VoterChange):
    """Make a spare controller a voter; healing removes it again."""

    kind = "voter_add"

    def _inject(self, ctx: FaultContext) -> None:
        self._add(ctx, self._node(ctx))

    def _heal(self, ctx: FaultContext) -> None:
        self._remove(ctx, self._chosen)


@register
class VoterRemove(_VoterChange):
    """Remove a voter from the quorum (it runs on as an observer); healing adds it back."""

    kind = "voter_remove"
    picks_voter = True

    def _inject(self, ctx: FaultContext) -> None:
        self._remove(ctx, self._node(ctx))

    def _heal(self, ctx: FaultContext) -> None:
        self._add(ctx, self._chosen)
