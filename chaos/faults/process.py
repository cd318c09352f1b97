"""Broker process faults: hard kill, clean stop, pause (a frozen JVM), rolling bounce."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from chaos.cluster import Node
from chaos.faults.base import Fault, FaultContext, FaultError, register
from chaos.waiting import WaitTimeout, wait_until


class _BrokerFault(Fault):
    params: ClassVar[Mapping[str, Any]] = {"target": str}

    def _nodes(self, ctx: FaultContext) -> list[Node]:
        self._hit = self.target_nodes(ctx)
        return self._hit


@register
class BrokerKill(_BrokerFault):
    """SIGKILL the target brokers (a crash); healing starts them again on the same data."""

    kind = "broker_kill"

    def _inject(self, ctx: FaultContext) -> None:
        for node in self._nodes(ctx):
            node.kill()

    def _verify(self, ctx: FaultContext) -> None:
        alive = [n.host for n in self._hit if n.state not in ("exited", "dead")]
        if alive:
            raise FaultError(f"{', '.join(alive)} still running after SIGKILL")

    def _heal(self, ctx: FaultContext) -> None:
        for node in self._hit:
            if node.state in ("exited", "dead", "created"):
                node.start()


@register
class BrokerStop(BrokerKill):
    """SIGTERM the target brokers (a clean shutdown); healing starts them again.

    Injecting sends the signal; the check waits up to ``timeout`` seconds (default 120) for Kafka's
    controlled shutdown to finish and, if it does not, escalates to SIGKILL and says so in the
    timeline (``escalated``), so a clean stop never silently turns into a crash.
    """

    kind = "broker_stop"
    params: ClassVar[Mapping[str, Any]] = {"target": str, "timeout": (int, float)}

    def _inject(self, ctx: FaultContext) -> None:
        for node in self._nodes(ctx):
            node.signal("SIGTERM")

    def _verify(self, ctx: FaultContext) -> None:
        assert ctx.timeline is not None
        deadline = time.monotonic() + float(self.p.get("timeout", 120))
        for node in self._hit:
            left = max(0.0, deadline - time.monotonic())
            try:
                wait_until(partial(_stopped, node), left, f"{node.host} to stop", interval=0.05)
            except WaitTimeout:
                # A clean shutdown that does not finish is escalated, and recorded as such: never
                # passed off as a clean stop.
                node.kill()
                ctx.timeline.record("escalated", self, target=node.host, to="SIGKILL")


@register
class BrokerPause(_BrokerFault):
    """Freeze the target brokers (SIGSTOP-like, a very long GC pause); healing thaws them."""

    kind = "broker_pause"

    def _inject(self, ctx: FaultContext) -> None:
        for node in self._nodes(ctx):
            node.pause()

    def _verify(self, ctx: FaultContext) -> None:
        running = [n.host for n in self._hit if n.state != "paused"]
        if running:
            raise FaultError(f"{', '.join(running)} not frozen")

    def _heal(self, ctx: FaultContext) -> None:
        for node in self._hit:
            if node.state == "paused":
                node.unpause()


@register
class RollingBounce(Fault):
    """Restart every broker in turn (a controlled shutdown, or SIGKILL with ``hard``), waiting for the
    cluster to be healthy in between: a rolling restart."""

    kind = "rolling_bounce"
    params: ClassVar[Mapping[str, Any]] = {"hard": bool, "timeout": (int, float)}

    def _inject(self, ctx: FaultContext) -> None:
        assert ctx.timeline is not None
        for node in ctx.cluster.brokers:
            self.targets.append(node.host)
            node.kill() if self.p.get("hard", False) else node.stop()
            node.start()
            ctx.cluster.wait_healthy(float(self.p.get("timeout", 120)))
            ctx.timeline.record("restarted", self, target=node.host)

    def _heal(self, ctx: FaultContext) -> None:
        for node in ctx.cluster.brokers:
            if node.state in ("exited", "dead"):
                node.start()


def _stopped(node: Node) -> bool:
    return node.state in ("exited", "dead")
