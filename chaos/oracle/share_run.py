"""The share groups of a run directory judged (:func:`chaos.oracle.share.judge_share`) with what the
run recorded: the members' ledgers, the delivery count limit they found in force, and the start
offsets Kafka's own share group tool reported after the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from chaos.oracle.keys import I64, SEQ_BITS, cat, member, unique
from chaos.oracle.log import Log, map_tags
from chaos.oracle.producers import load_producers
from chaos.oracle.share import DEFAULT_LIMIT, SHARE_STRATEGY, ShareFindings, judge_share
from chaos.rundir import DRAIN, EXPERIMENT, KAFKA_OFFSETS, LEDGERS
from chaos.workloads.envelope import Status
from chaos.workloads.ledger import Records, read_meta, read_records
from chaos.workloads.share_ledger import DELIVERIES, SHARE_DELIVERY, Ack, as_limit, delivery_limit

#: The group config that says a share group's isolation level (KIP-932: a group's, not a client's).
ISOLATION_CONFIG = "share.isolation.level"
#: The brokers' delivery count limit: every share group's where the group has none of its own.
BROKER_LIMIT_CONFIG = "group.share.delivery.count.limit"


def load_share_groups(run_dir: Path) -> dict[str, dict[str, Records]]:
    """Each share group of the run (``ledgers/consumer-*.json`` whose ``strategy`` is ``share``): its
    members' delivery ledgers by member id, whole rows only (a torn last row is dropped).

    Raises:
        OSError: a ledger cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    groups: dict[str, dict[str, Records]] = {}
    for meta_path, meta in share_members(run_dir):
        name = str(meta.get("member") or meta_path.stem.removeprefix("consumer-"))
        chunks = list(read_records(meta_path.with_suffix(DELIVERIES), SHARE_DELIVERY))
        rows = np.concatenate(chunks) if chunks else np.empty(0, dtype=SHARE_DELIVERY)
        groups.setdefault(str(meta.get("group", "")), {})[name] = rows
    return groups


def accepted_keys(run_dir: Path, tag_to_index: dict[int, int]) -> I64:
    """Sorted unique keys of the valid records of the run's producers (``tag_to_index``) that a share
    group member accepted (its ``ACCEPT`` rows): what share groups processed, as records, for a count
    of records processed once whichever group, and whichever copy in the log, processed them.

    Raises:
        OSError: a ledger cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    found: list[I64] = []
    for meta_path, _ in share_members(run_dir):
        for rows in read_records(meta_path.with_suffix(DELIVERIES), SHARE_DELIVERY):
            mine = rows[(rows["ack"] == Ack.ACCEPT) & (rows["status"] == Status.VALID) & (rows["seq"] >= 0)]
            index = map_tags(mine["tag"], tag_to_index)
            ok = index >= 0
            found.append(unique((index[ok] << SEQ_BITS) | mine["seq"][ok].astype(np.int64)))
    return unique(cat(found))


def share_members(run_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The run's share group members (``ledgers/consumer-*.json`` whose ``strategy`` is ``share``):
    each one's meta path and meta, in the order of their files' names.

    Raises:
        OSError: a meta file cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    found = ((p, read_meta(p)) for p in sorted((Path(run_dir) / LEDGERS).glob("consumer-*.json")))
    return [(p, dict(m)) for p, m in found if m.get("strategy") == SHARE_STRATEGY]


def group_limits(run_dir: Path) -> dict[str, int]:
    """Each share group's delivery count limit, as its members found it in force when they started
    (``group_config`` in their meta: ``share.delivery.count.limit``); groups whose members did not
    say are absent.

    Raises:
        OSError: a meta file cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    return {str(m.get("group", "")): n for _, m in share_members(run_dir) if (n := delivery_limit(m)) is not None}


def broker_limit(run_dir: Path) -> int | None:
    """The delivery count limit the run gave its brokers (``experiment.yaml``: ``cluster.broker_config``,
    ``group.share.delivery.count.limit``): in force for a group whose members found no limit of its
    own (a Kafka before 4.3 describes none); ``None`` where the file does not say it.

    Raises:
        OSError: the file cannot be read.
    """
    path = Path(run_dir) / EXPERIMENT
    try:
        experiment = yaml.safe_load(path.read_text()) if path.exists() else None
    except yaml.YAMLError:
        return None
    cluster = experiment.get("cluster") if isinstance(experiment, dict) else None
    config = cluster.get("broker_config") if isinstance(cluster, dict) else None
    return as_limit(config.get(BROKER_LIMIT_CONFIG)) if isinstance(config, dict) else None


def read_committed_groups(run_dir: Path) -> set[str]:
    """The share groups a member found reading with ``share.isolation.level=read_committed`` (a group
    config: ``group_config`` in its meta).

    Raises:
        OSError: a meta file cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    return {
        str(m.get("group", ""))
        for _, m in share_members(run_dir)
        if isinstance(c := m.get("group_config"), dict) and str(c.get(ISOLATION_CONFIG, "")).lower() == "read_committed"
    }


def judge_share_run(
    run_dir: Path,
    limit: int | None = None,
    examples: int = 10,
    log: Log | None = None,
    meant: I64 | None = None,
    committed_log: Log | None = None,
) -> list[ShareFindings]:
    """Each share group of ``run_dir`` judged against the drained log (``drain/log.bin``, or ``log``
    read already): the valid records of the run's producers are judged (``meant``: only these keys,
    sorted unique: the records meant to be read, none of an aborted transaction), a delivery of any
    other position the log holds is no phantom. A group reading with read_committed
    (:func:`read_committed_groups`) is judged against ``committed_log``, the read_committed view,
    where there is one: what that level does not read, the broker archives unread. ``limit``: the
    delivery count limit, else each group's own (:func:`group_limits`), else the brokers'
    (:func:`broker_limit`), else :data:`DEFAULT_LIMIT`;
    each group's records at or past the start offsets Kafka reported (:func:`share_starts`) are
    unreached, not lost. In the order of the groups' names; none where the run had no share group
    member.

    Raises:
        OSError: a ledger or the drain cannot be read.
        ValueError: a meta file is not a JSON object, or ``limit`` is below 1.
    """
    run_dir = Path(run_dir)
    groups = load_share_groups(run_dir)
    if not groups:
        return []
    if log is None:
        log = Log(run_dir, {p.tag: p.index for p in load_producers(run_dir)})
    limits, starts, committed = group_limits(run_dir), share_starts(run_dir), read_committed_groups(run_dir)
    brokers = broker_limit(run_dir) or DEFAULT_LIMIT
    there = unique(log.pos)
    found = []
    for g in sorted(groups):
        view = committed_log if committed_log is not None and g in committed else log
        judged = view.pos[view.known]
        if meant is not None:
            judged = judged[member(view.keys[view.known], meant)]
        found.append(
            judge_share(judged, groups[g], limit or limits.get(g, brokers), examples, there, g, starts.get(g, {}))
        )
    return found


def share_starts(run_dir: Path) -> dict[str, dict[int, int]]:
    """Each share group's start offset per partition, as Kafka's share group tool reported them after
    the run (``drain/kafka-offsets.json``, ``share_start``); none where it did not answer."""
    path = Path(run_dir) / DRAIN / KAFKA_OFFSETS
    found = read_meta(path).get("share_start") if path.exists() else None
    if not isinstance(found, dict):
        return {}
    return {
        str(g): {int(p): int(o) for p, o in by.items() if str(p).isdecimal() and isinstance(o, int)}
        for g, by in found.items()
        if isinstance(by, dict)
    }


def start_reasons(run_dir: Path, judged: list[ShareFindings]) -> list[str]:
    """Why a verdict with share groups is inconclusive: a group Kafka's share group tool gave no
    start offsets for (it did not answer, or found nowhere to run), whose records left unaccepted
    can then not be told lost (below the start) from unreached (at or past it)."""
    starts = share_starts(run_dir)
    return [
        f"Kafka's share group tool gave no start offsets for {j.group}: its unaccepted records cannot be told "
        "lost from unreached"
        for j in judged
        if j.group not in starts
    ]
