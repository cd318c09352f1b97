"""Kafka's own tools, run in a broker's container with the broker's jars: a second reader that
shares no code with the harness's Python client."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chaos.cluster.config import INTERNAL_PORT
from chaos.cluster.node import Node
from chaos.errors import InfrastructureError

#: Kafka's offsets tool (``kafka-get-offsets.sh``), from the jars every broker image holds.
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
_LINE = re.compile(r"^(?P<topic>.+):(?P<partition>\d+):(?P<offset>-?\d+)$")


def get_offsets(brokers: Sequence[Node], topic: str) -> dict[str, dict[int, int]]:
    """``{"beginning": {partition: offset}, "end": {partition: offset}}`` of ``topic``, as Kafka's
    own ``GetOffsetShell`` reports them, asked through a running broker's internal listener.

    Raises:
        InfrastructureError: no broker is running, or the tool failed or printed nothing for the topic.
    """
    running = [b for b in brokers if b.is_running]
    if not running:
        raise InfrastructureError("no broker is running to run Kafka's offsets tool in")
    bootstrap = ",".join(f"{b.host}:{INTERNAL_PORT}" for b in running)
    out: dict[str, dict[int, int]] = {}
    for name, time in (("beginning", "-2"), ("end", "-1")):
        cmd = [
            "java",
            "-Xmx128m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            "/opt/kafka/libs/*",
            GET_OFFSETS,
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--time",
            time,
        ]
        code, text = running[0].exec(cmd)
        offsets = {}
        for line in text.splitlines():
            m = _LINE.match(line.strip())
            if m and m["topic"] == topic:
                offsets[int(m["partition"])] = int(m["offset"])
        if code != 0 or not offsets:
            raise InfrastructureError(f"Kafka's offsets tool failed on {running[0].host} (exit {code}): {text[-500:]}")
        out[name] = offsets
    return out
