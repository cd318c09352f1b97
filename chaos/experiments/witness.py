"""The second witness, as Kafka's own system tests use one: after the drain, look for a sample of
the broker-lost records in every broker's segment files with Kafka's ``DumpLogSegments``, and say
whether each is gone from every replica or still on a disk but not in the log clients read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.cluster.kafka_tools import search_segments
from chaos.errors import ChaosError
from chaos.oracle import Verdict
from chaos.oracle.producers import load_producers
from chaos.rundir import DRAIN
from chaos.workloads.envelope import MAGIC, Status
from chaos.workloads.ledger import LOG_RECORD, read_records, write_meta

#: Where the oracle finds what the witness saw (``docs/ledgers.md``).
WITNESS_FILE = rundir.WITNESS


def witness(cluster: KafkaCluster, topic: str, partitions: int, run_id: str, run_dir: Path, verdict: Verdict) -> bool:
    """Search the disks for the verdict's broker-loss examples and write ``drain/witness.json``.

    Returns whether there was anything to look for (a conclusive verdict with broker loss). A tool
    that fails is written down as such; it does not fail the run.
    """
    lost = verdict.examples.get("broker", []) if verdict.conclusive else []
    if not lost:
        return False
    markers = {f"{MAGIC.decode()};{run_id};{e['producer']};{e['seq']};": e for e in lost}
    where = {p for e in lost if isinstance(p := e.get("partition"), int)}
    if len(where) < len(lost):  # a record acknowledged without an offset: any partition
        where = set(range(partitions))
    out: dict[str, object] = {"tool": "DumpLogSegments", "brokers": [b.host for b in cluster.brokers if b.is_running]}
    # A control: a record the drain read must show up, or an empty search proves nothing.
    control = _a_record_in_the_log(run_dir, run_id, where)
    try:
        found = search_segments(
            cluster.brokers, topic, where, [*markers, *([control] if control else [])], cluster.spec.data_dirs()
        )
        if control and not found[control]:
            raise ChaosError(f"the search did not find {control!r}, a record the drain read: its answer proves nothing")
        out["checked"] = [
            {"producer": e["producer"], "seq": e["seq"], "partition": e.get("partition"), "on_disk_of": found[m]}
            for m, e in markers.items()
        ]
    except ChaosError as e:
        out["error"] = str(e)
    write_meta(run_dir / DRAIN / WITNESS_FILE, out)
    return True


def _a_record_in_the_log(run_dir: Path, run_id: str, partitions: set[int]) -> str | None:
    """The value prefix of the first valid record of this run the drain read in ``partitions``."""
    tags = {p.tag: p.id for p in load_producers(run_dir)}
    for chunk in read_records(run_dir / DRAIN / rundir.DRAIN_LOG, LOG_RECORD):
        for row in chunk[(chunk["status"] == Status.VALID)][:1000]:
            if int(row["partition"]) in partitions and int(row["tag"]) in tags:
                return f"{MAGIC.decode()};{run_id};{tags[int(row['tag'])]};{int(row['seq'])};"
    return None


def kafka_offsets(ask: Callable[[], dict[str, dict[int, int]]], run_dir: Path, note: Callable[[str], None]) -> None:
    """Ask Kafka's own offsets tool (``ask``) for the topic's log start and end offsets, a second
    reader the oracle checks the drain against (``drain/kafka-offsets.json``). A tool that fails
    leaves the check undone and says so (``note``); it does not fail the run."""
    path = run_dir / rundir.DRAIN / rundir.KAFKA_OFFSETS
    try:
        offsets = ask()
    except ChaosError as e:
        note(f"Kafka's offsets tool did not answer, the drain is unchecked: {e}")
        write_meta(path, {"error": str(e)})
        return
    write_meta(path, {name: {str(p): o for p, o in by.items()} for name, by in offsets.items()})
