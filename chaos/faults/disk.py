"""Faults of the brokers' data disk, on kcfs (a cluster started with ``disk: kcfs``).

* ``power_loss``: the target brokers lose power. kcfs stops every change to their disks and puts each
  file back as of its last fsync, then the brokers are killed; healing starts them on what is left,
  as after a power cut (names survive, un-fsynced contents do not; see ``chaos/images/kcfs``).
* ``disk_full``: writes to one log directory of the targets fail with ENOSPC.
* ``disk_error``: every operation on one log directory of the targets fails with EIO.

Kafka takes a log directory whose I/O fails offline (KAFKA_STORAGE_ERROR to clients), and shuts
the broker down when that was its only one (or held the metadata log); it only brings a directory
back at start-up. So healing a disk fault ends the failure and restarts the broker (a clean stop,
or a start where Kafka already stopped it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, ClassVar, TypeVar

from kafka.errors import KafkaError

from chaos.cluster import Node, operations
from chaos.errors import InfrastructureError, UsageError
from chaos.faults.base import Fault, FaultContext, FaultError, UnsupportedFault, register
from chaos.faults.process import BrokerKill
from chaos.images import kcfs

T = TypeVar("T")


def kcfs_command(node: Node, *args: str) -> dict[str, Any]:
    """Send one command to ``node``'s kcfs and return its JSON answer.

    Every kcfs command may be sent twice (a second ``cut`` gets the first one's answer), so a
    success whose output Docker lost (seen under load: exit 0, nothing printed) is asked again once.

    Raises:
        FaultError: kcfs did not answer or refused the command.
    """
    for _ in range(2):
        try:
            code, out = node.exec([kcfs.BINARY, "ctl", kcfs.SOCKET, *args])
        except InfrastructureError as e:
            raise FaultError(f"kcfs on {node.host} did not answer {' '.join(args)!r}: {e}") from e
        if code != 0 or out.strip():
            break
    try:
        answer: dict[str, Any] = json.loads(out.strip().splitlines()[0])
    except (json.JSONDecodeError, IndexError):
        answer = {}
    if code != 0 or not answer or answer.get("error"):
        raise FaultError(f"kcfs on {node.host} refused {' '.join(args)!r} (exit {code}): {out.strip()[-300:]}")
    return answer


def _needs_kcfs(fault: Fault, ctx: FaultContext) -> None:
    if ctx.cluster.spec.disk != "kcfs":
        raise UnsupportedFault(
            f"{fault.kind} needs the brokers' data on kcfs, a disk that can lose power and fail: "
            "add `disk: kcfs` to the experiment's cluster: section (or pass --disk kcfs to `kafka-chaos cluster up`)"
        )


def _each(nodes: list[Node], fn: Callable[[Node], T]) -> list[T]:
    """``fn(node)`` for every node at once: a power cut reaches a rack's brokers together."""
    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        return list(pool.map(fn, nodes))


@register
class PowerLoss(BrokerKill):
    """The target brokers lose power: every write they had not fsynced is gone; healing powers them
    on. A crash as far as the check and the healing go (:class:`BrokerKill`); what differs is the disk."""

    kind = "power_loss"

    def _inject(self, ctx: FaultContext) -> None:
        _needs_kcfs(self, ctx)
        self._hit = self.target_nodes(ctx)
        assert ctx.timeline is not None

        def cut(node: Node) -> dict[str, Any]:
            answer = kcfs_command(node, "cut")
            node.kill()
            return answer

        for node, answer in zip(self._hit, _each(self._hit, cut), strict=True):
            ctx.timeline.record(
                "power_cut",
                self,
                target=node.host,
                files=answer.get("files", 0),
                bytes_dropped=answer.get("bytes_dropped", 0),
                blocks_restored=answer.get("blocks_restored", 0),
            )


def restore_disk(node: Node) -> None:
    """End a kcfs failure on ``node`` and restart the broker (a clean stop, or a start where Kafka
    already stopped it): Kafka brings an offline log directory back only at start-up.

    Raises:
        FaultError: kcfs did not answer.
    """
    if node.state == "running":
        kcfs_command(node, "heal")
        node.stop()
    node.start()


class _DiskFailure(Fault):
    """One log directory of the targets fails; healing ends the failure and restarts the broker."""

    failure: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Any]] = {"target": str, "log_dir": int}

    def validate(self) -> None:
        if int(self.p.get("log_dir", 1)) < 1:
            raise UsageError(f"fault {self.kind}: log_dir counts from 1 (the first log directory)")

    def _dir(self, ctx: FaultContext) -> str:
        dirs = ctx.cluster.spec.data_dirs()
        index = int(self.p.get("log_dir", len(dirs)))
        if index > len(dirs):
            raise UsageError(
                f"fault {self.kind}: log_dir {index}, but the brokers have {len(dirs)} log director"
                f"{'y' if len(dirs) == 1 else 'ies'}: set log_dirs: {index} in the cluster: section"
            )
        return dirs[index - 1]

    def _inject(self, ctx: FaultContext) -> None:
        _needs_kcfs(self, ctx)
        path = self._dir(ctx)
        self._hit = self.target_nodes(ctx)
        relative = path.removeprefix(kcfs.MOUNT).strip("/")
        assert ctx.timeline is not None
        for node in self._hit:
            kcfs_command(node, "fail", self.failure, relative)
            ctx.timeline.record("disk_failing", self, target=node.host, path=path, error=self.failure.upper())

    def _heal(self, ctx: FaultContext) -> None:
        if not self._hit:
            return  # refused before it touched a broker
        assert ctx.timeline is not None
        for node in self._hit:
            # What Kafka made of the failure, as evidence in the timeline: a directory taken
            # offline on a running broker, or a broker it stopped.
            state = node.state
            offline: list[str] = []
            if state == "running":
                with suppress(KafkaError, OSError):
                    offline = operations.offline_log_dirs(ctx.cluster, node.node_id)
            ctx.timeline.record("disk_outcome", self, target=node.host, broker=state, offline_log_dirs=offline)
        for node in self._hit:
            restore_disk(node)
        # Back means registered again with its directories online, not merely a process started.
        ctx.cluster.wait_healthy()


@register
class DiskFull(_DiskFailure):
    """Writes to one log directory (``log_dir``, counted from 1; default the last) fail with ENOSPC."""

    kind = "disk_full"
    failure = "enospc"


@register
class DiskError(_DiskFailure):
    """Every operation on one log directory (``log_dir``, counted from 1; default the last) fails with EIO."""

    kind = "disk_error"
    failure = "eio"
