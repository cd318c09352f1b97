"""The second witness, as Kafka's own system tests use one: after the drain, look for a sample of
the broker-lost records in every broker's segment files with Kafka's ``DumpLogSegments``, and say
whether each is gone from every replica or still on a disk but not in the log clients read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.cluster.kafka_tools import offsets_with, search_segments, share_starts_with
from chaos.cluster.toolbox import ToolAccess
from chaos.errors import ChaosError
from chaos.oracle import Verdict
from chaos.oracle.producers import load_producers
from chaos.oracle.share_run import share_members
from chaos.rundir import DRAIN
from chaos.workloads.envelope import MAGIC, Status
from chaos.workloads.ledger import LOG_RECORD, read_records, write_meta

#: Where the oracle finds what the witness saw (``docs/ledgers.md``).
WITNESS_FILE = rundir.WITNESS


def witness(
    cluster: KafkaCluster,
    topic: str,
    partitions: int,
    run_id: str,
    run_dir: Path,
    verdict: Verdict,
    controls: Mapping[int, str] | None = None,
    log_start: Callable[[], Mapping[int, int]] | None = None,
) -> bool:
    """Search the disks for the verdict's broker-loss examples and write ``drain/witness.json``.
    The search's control, a record the log holds, is the drain's, or one of ``controls``
    (partition -> ``producer;seq``) for a soak judged in windows, which reads no log back at its end.
    ``log_start`` (a soak whose topic has a retention): the partitions' log start offsets; an example
    acknowledged below its partition's was deleted by the retention and is not searched (``deleted``).

    Returns whether there was anything to look for (a conclusive verdict with broker loss). A tool
    that fails is written down as such; it does not fail the run.
    """
    lost = verdict.examples.get("broker", []) if verdict.conclusive else []
    deleted: list[dict[str, object]] = []
    if lost and log_start is not None:
        lost, deleted = _retained(lost, log_start)
    if not lost and not deleted:
        return False
    if not lost:  # nothing left to search for: said, with no answer
        write_meta(run_dir / DRAIN / WITNESS_FILE, {"tool": "DumpLogSegments", "deleted": deleted, "error": _DELETED})
        return True
    markers = {f"{MAGIC.decode()};{run_id};{e['producer']};{e['seq']};": e for e in lost}
    where = {p for e in lost if isinstance(p := e.get("partition"), int)}
    if len(where) < len(lost):  # a record acknowledged without an offset: any partition
        where = set(range(partitions))
    out: dict[str, object] = {"tool": "DumpLogSegments", "brokers": [b.host for b in cluster.brokers if b.is_running]}
    if deleted:
        out["deleted"] = deleted
    # A control: a record the drain read must show up, or an empty search proves nothing.
    if controls is None:
        control = _a_record_in_the_log(run_dir, run_id, where)
    else:
        control = next((f"{MAGIC.decode()};{run_id};{controls[p]};" for p in sorted(where) if p in controls), None)
    try:
        found = search_segments(
            cluster.brokers, topic, where, [*markers, *([control] if control else [])], cluster.data_dirs()
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


_DELETED = "every example was acknowledged below its partition's log start: the topic's retention deleted it"


def _retained(
    lost: list[dict[str, object]], log_start: Callable[[], Mapping[int, int]]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The examples still in their partition's log, and those acknowledged below its start (all of
    them, unsearched, when the log start cannot be asked: nothing would tell a deletion from a loss)."""
    try:
        start = log_start()
    except ChaosError:
        return [], list(lost)
    kept: list[dict[str, object]] = []
    deleted: list[dict[str, object]] = []
    for e in lost:
        p, o = e.get("partition"), e.get("offset")
        gone = not isinstance(p, int) or not isinstance(o, int) or o < start.get(p, 1 << 62)
        (deleted if gone else kept).append(e)
    return kept, deleted


def _a_record_in_the_log(run_dir: Path, run_id: str, partitions: set[int]) -> str | None:
    """The value prefix of the first valid record of this run the drain read in ``partitions``."""
    tags = {p.tag: p.id for p in load_producers(run_dir)}
    for chunk in read_records(run_dir / DRAIN / rundir.DRAIN_LOG, LOG_RECORD):
        for row in chunk[(chunk["status"] == Status.VALID)][:1000]:
            if int(row["partition"]) in partitions and int(row["tag"]) in tags:
                return f"{MAGIC.decode()};{run_id};{tags[int(row['tag'])]};{int(row['seq'])};"
    return None


def kafka_offsets(
    tools: Callable[[], AbstractContextManager[ToolAccess]], topic: str, run_dir: Path, note: Callable[[str], None]
) -> None:
    """Ask Kafka's own offsets tool for ``topic``'s log start and end offsets, a second reader the
    oracle checks the drain against (``drain/kafka-offsets.json``); and, for each share group of the
    run, Kafka's share group tool for its start offsets (``share_start``: group → partition →
    offset), below which the broker counts every record done. ``tools`` gives where they run
    (:meth:`~chaos.cluster.handle.ClusterHandle.tools`). A tool that fails, or finds nowhere to run,
    leaves its part undone and says so (``note``); it does not fail the run."""
    try:
        with tools() as access:
            kafka_answers(
                lambda: offsets_with(access, topic),
                run_dir,
                note,
                lambda group: share_starts_with(access, topic, group),
            )
    except ChaosError as e:  # nowhere to run them: as if each had failed
        error = e

        def no_offsets() -> dict[str, dict[int, int]]:
            raise error

        def no_starts(group: str) -> dict[int, int]:
            raise error

        kafka_answers(no_offsets, run_dir, note, no_starts)


def kafka_answers(
    ask: Callable[[], dict[str, dict[int, int]]],
    run_dir: Path,
    note: Callable[[str], None],
    share_start: Callable[[str], dict[int, int]],
) -> None:
    """:func:`kafka_offsets` with the tools given (``ask``: the offsets tool; ``share_start``: the share
    group tool, of one group)."""
    path = run_dir / rundir.DRAIN / rundir.KAFKA_OFFSETS
    found: dict[str, object]
    try:
        found = {name: {str(p): o for p, o in by.items()} for name, by in ask().items()}
    except ChaosError as e:  # the share groups' starts are another tool's: still asked
        note(f"Kafka's offsets tool did not answer, the drain is unchecked: {e}")
        found = {"error": str(e)}
    starts: dict[str, dict[str, int]] = {}
    for group in share_groups(run_dir):
        try:
            starts[group] = {str(p): o for p, o in share_start(group).items()}
        except ChaosError as e:
            note(f"Kafka's share group tool did not answer for {group}, so its share loss is unknown: {e}")
    write_meta(path, {**found, "share_start": starts} if starts else found)


def share_groups(run_dir: Path) -> list[str]:
    """The share groups whose members wrote a ledger meta in ``run_dir``."""
    return sorted({str(m.get("group", "")) for _, m in share_members(run_dir)})
