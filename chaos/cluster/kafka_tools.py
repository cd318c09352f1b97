"""Kafka's own tools, run with the release's jars (in a broker's container, or on this machine for a
team's cluster: :mod:`chaos.cluster.toolbox`): a second reader that shares no code with the
harness's Python client."""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chaos.cluster.config import DATA_DIR, INTERNAL_PORT
from chaos.cluster.node import Node
from chaos.cluster.toolbox import TOOL_JAVA, ToolAccess, in_a_broker
from chaos.errors import InfrastructureError

#: Kafka's offsets tool (``kafka-get-offsets.sh``), from the jars every broker image holds.
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
_LINE = re.compile(r"^(?P<topic>.+):(?P<partition>\d+):(?P<offset>-?\d+)$")


def get_offsets(brokers: Sequence[Node], topic: str) -> dict[str, dict[int, int]]:
    """:func:`offsets_with` in the first running broker. Raises InfrastructureError (none runs, or
    the tool failed)."""
    return offsets_with(in_a_broker(brokers), topic)


def offsets_with(access: ToolAccess, topic: str) -> dict[str, dict[int, int]]:
    """``{"beginning": {partition: offset}, "end": {partition: offset}}`` of ``topic``, as Kafka's
    own ``GetOffsetShell`` reports them, run where ``access`` says.

    Raises:
        InfrastructureError: the tool failed or printed nothing for the topic.
    """

    def ask(time: str) -> dict[int, int]:
        cmd = ["sh", "-c", f'{access.java} "$@"', "sh", GET_OFFSETS, "--bootstrap-server", access.bootstrap]
        code, text = access.on.exec([*cmd, *access.args, "--topic", topic, "--time", time])
        offsets = {}
        for line in text.splitlines():
            m = _LINE.match(line.strip())
            if m and m["topic"] == topic:
                offsets[int(m["partition"])] = int(m["offset"])
        if code != 0 or not offsets:
            raise InfrastructureError(f"Kafka's offsets tool failed on {access.on.host} (exit {code}): {text[-500:]}")
        return offsets

    # The two questions in parallel: each is a JVM start, about a second here.
    with ThreadPoolExecutor(2) as pool:
        beginning, end = pool.submit(ask, "-2"), pool.submit(ask, "-1")
        return {"beginning": beginning.result(), "end": end.result()}


#: Kafka's segment dump tool (``kafka-dump-log.sh``): in ``org.apache.kafka.tools`` since 4.x, in
#: ``kafka.tools`` before; the first that loads is used.
DUMP_LOG = ("org.apache.kafka.tools.DumpLogSegments", "kafka.tools.DumpLogSegments")

_SEARCH = """
files=$(for d in {dirs}; do ls "$d"/*.log 2>/dev/null; done | paste -sd, -)
[ -z "$files" ] && exit 0
cat > /tmp/kc-markers <<'MARKERS'
{patterns}
MARKERS
dump() {{
  {java} "$1" --print-data-log --files "$files" \
    2>/tmp/kc-err | grep -oF -f /tmp/kc-markers | sort -u > /tmp/kc-found
  return "${{PIPESTATUS[0]}}"
}}
dump {first} || {{ grep -q 'find or load main class' /tmp/kc-err && dump {second}; }} \
  || {{ tail -5 /tmp/kc-err; exit 1; }}
cat /tmp/kc-found
"""


def search_segments(
    brokers: Sequence[Node],
    topic: str,
    partitions: set[int],
    markers: list[str],
    data_dirs: Sequence[str] = (DATA_DIR,),
) -> dict[str, list[str]]:
    """Which brokers hold each of ``markers`` (ASCII prefixes of record values) in the segment files
    of ``topic``'s ``partitions`` on their disks, as Kafka's own ``DumpLogSegments`` prints them.

    Every running broker is searched, replica or not (a broker without the partition has no files).

    Raises:
        InfrastructureError: no broker is running, or the tool failed on one.
    """
    running = [b for b in brokers if b.is_running]
    if not running:
        raise InfrastructureError("no broker is running to search segment files on")
    found: dict[str, list[str]] = {m: [] for m in markers}
    script = _SEARCH.format(
        java=TOOL_JAVA,
        dirs=" ".join(f"{d}/{topic}-{p}" for d in data_dirs for p in sorted(partitions)),
        patterns="\n".join(markers),
        first=DUMP_LOG[0],
        second=DUMP_LOG[1],
    )
    with ThreadPoolExecutor(len(running)) as pool:  # one JVM per broker, side by side
        answers = list(pool.map(lambda node: node.exec(["bash", "-c", script]), running))
    for node, (code, out) in zip(running, answers, strict=True):
        if code != 0:
            raise InfrastructureError(f"Kafka's DumpLogSegments failed on {node.host} (exit {code}): {out[-500:]}")
        for line in out.splitlines():
            if line in found:
                found[line].append(node.host)
    return found


_DUMP_BATCHES = """
dir=$(for d in {dirs}; do [ -d "$d/{partition_dir}" ] && echo "$d/{partition_dir}"; done | head -1)
[ -z "$dir" ] && {{ echo "NO-REPLICA"; exit 0; }}
files=$(ls "$dir"/*.log 2>/dev/null | paste -sd, -)
[ -z "$files" ] && exit 0
dump() {{ {java} "$1" --files "$files" 2>/tmp/kc-err; }}
out=$(dump {first}) || {{ grep -q 'find or load main class' /tmp/kc-err && out=$(dump {second}); }} \\
  || {{ tail -5 /tmp/kc-err; exit 1; }}
printf '%s\\n' "$out" | grep -oE 'baseOffset: [0-9]+ lastOffset: [0-9]+ count: [0-9]+|isControl: (true|false)'
"""
_BATCH = re.compile(r"baseOffset: (\d+) lastOffset: (\d+) count: \d+\s+isControl: (true|false)")


def segment_batches(
    node: Node, topic: str, partition: int, data_dirs: Sequence[str] = (DATA_DIR,)
) -> list[tuple[int, int, bool]] | None:
    """Each record batch of ``topic``/``partition`` in ``node``'s segment files as Kafka's own
    ``DumpLogSegments`` reads them from disk (no broker involved): base offset, last offset, and
    whether it is a control batch (a transaction's commit or abort marker); ``None`` where the node
    holds no replica of it.

    Raises:
        InfrastructureError: the node is not running, or the tool failed.
    """
    script = _DUMP_BATCHES.format(
        java=TOOL_JAVA,
        dirs=" ".join(data_dirs),
        partition_dir=f"{topic}-{partition}",
        first=DUMP_LOG[0],
        second=DUMP_LOG[1],
    )
    code, out = node.exec(["bash", "-c", script])
    if code != 0:
        raise InfrastructureError(f"Kafka's DumpLogSegments failed on {node.host} (exit {code}): {out[-500:]}")
    if "NO-REPLICA" in out:
        return None
    return [(int(m[1]), int(m[2]), m[3] == "true") for m in _BATCH.finditer(out)]


def segment_offsets(node: Node, topic: str, partition: int, data_dirs: Sequence[str] = (DATA_DIR,)) -> list[int] | None:
    """Every offset of ``topic``/``partition`` in ``node``'s segment files (:func:`segment_batches`).

    Raises:
        InfrastructureError: the node is not running, or the tool failed.
    """
    batches = segment_batches(node, topic, partition, data_dirs)
    return None if batches is None else [o for base, last, _ in batches for o in range(base, last + 1)]


def control_offsets(node: Node, topic: str, partition: int, data_dirs: Sequence[str] = (DATA_DIR,)) -> set[int] | None:
    """The offsets of ``topic``/``partition`` that hold control records (transaction commit and abort
    markers) in ``node``'s segment files (:func:`segment_batches`).

    Raises:
        InfrastructureError: the node is not running, or the tool failed.
    """
    batches = segment_batches(node, topic, partition, data_dirs)
    if batches is None:
        return None
    return {o for base, last, control in batches if control for o in range(base, last + 1)}


#: Kafka's share group tool (``kafka-share-groups.sh``, Kafka 4.1 on).
SHARE_GROUPS = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"


def share_start_offsets(brokers: Sequence[Node], topic: str, group: str) -> dict[int, int]:
    """:func:`share_starts_with` in the first running broker. Raises InfrastructureError (none runs,
    or the tool failed)."""
    return share_starts_with(in_a_broker(brokers), topic, group)


def share_starts_with(access: ToolAccess, topic: str, group: str) -> dict[int, int]:
    """Each partition's share-partition start offset of ``group`` on ``topic``, as Kafka's own share
    group tool describes it (``--describe --offsets``), run where ``access`` says: below it, the
    broker counts every record done. A partition whose start is not known yet (``-``) is absent.

    Raises:
        InfrastructureError: the tool failed or described no partition.
    """
    cmd = ["sh", "-c", f'{access.java} "$@"', "sh", SHARE_GROUPS, "--bootstrap-server", access.bootstrap, *access.args]
    code, text = access.on.exec([*cmd, "--describe", "--offsets", "--group", group])
    starts, columns = {}, None
    for line in text.splitlines():
        cells = line.split()
        if cells[:3] == ["GROUP", "TOPIC", "PARTITION"]:
            columns = cells
        elif columns and len(cells) == len(columns) and cells[0] == group and cells[1] == topic:
            row = dict(zip(columns, cells, strict=True))
            if row["PARTITION"].isdigit() and row["START-OFFSET"].lstrip("-").isdigit():
                starts[int(row["PARTITION"])] = int(row["START-OFFSET"])
    if code == 0 and columns is None and "has no offset information" in text:
        return starts  # the group holds no share-partition state yet: no start is known, none is missing
    if code != 0 or columns is None:
        raise InfrastructureError(f"Kafka's share group tool failed on {access.on.host} (exit {code}): {text[-500:]}")
    return starts


#: Kafka's transactions tool (``kafka-transactions.sh``).
TRANSACTIONS = "org.apache.kafka.tools.TransactionsCommand"


def transaction_states(brokers: Sequence[Node]) -> dict[str, str]:
    """Each transactional id's state at its coordinator (``Ongoing``, ``CompleteCommit``, …), as
    Kafka's transactions tool lists them (``list``).

    Raises:
        InfrastructureError: no broker is running, or the tool failed.
    """
    running = [b for b in brokers if b.is_running]
    if not running:
        raise InfrastructureError("no broker is running to run Kafka's transactions tool in")
    bootstrap = ",".join(f"{b.host}:{INTERNAL_PORT}" for b in running)
    cmd = ["sh", "-c", f'{TOOL_JAVA} "$@"', "sh", TRANSACTIONS, "--bootstrap-server", bootstrap, "list"]
    code, text = running[0].exec(cmd)
    if code != 0:
        raise InfrastructureError(f"Kafka's transactions tool failed on {running[0].host} (exit {code}): {text[-500:]}")
    states, columns = {}, None
    for line in text.splitlines():
        cells = line.split()
        if cells[:1] == ["TransactionalId"]:
            columns = cells
        elif columns and len(cells) == len(columns):
            row = dict(zip(columns, cells, strict=True))
            states[row["TransactionalId"]] = row.get("TransactionState", "")
    return states
