"""The share groups of a run directory judged (:func:`chaos.oracle.share.judge_share`) with what the
run recorded: the members' ledgers, the delivery count limit they found in force, and the start
offsets Kafka's own share group tool reported after the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chaos.oracle.keys import unique
from chaos.oracle.log import Log
from chaos.oracle.producers import load_producers
from chaos.oracle.share import DEFAULT_LIMIT, SHARE_STRATEGY, ShareFindings, judge_share
from chaos.rundir import DRAIN, KAFKA_OFFSETS, LEDGERS
from chaos.workloads.ledger import Records, read_meta, read_records
from chaos.workloads.share_ledger import DELIVERIES, SHARE_DELIVERY


def load_share_groups(run_dir: Path) -> dict[str, dict[str, Records]]:
    """Each share group of the run (``ledgers/consumer-*.json`` whose ``strategy`` is ``share``): its
    members' delivery ledgers by member id, whole rows only (a torn last row is dropped).

    Raises:
        OSError: a ledger cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    groups: dict[str, dict[str, Records]] = {}
    for meta_path in sorted((Path(run_dir) / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        if meta.get("strategy") != SHARE_STRATEGY:
            continue
        name = str(meta.get("member") or meta_path.stem.removeprefix("consumer-"))
        chunks = list(read_records(meta_path.with_suffix(DELIVERIES), SHARE_DELIVERY))
        rows = np.concatenate(chunks) if chunks else np.empty(0, dtype=SHARE_DELIVERY)
        groups.setdefault(str(meta.get("group", "")), {})[name] = rows
    return groups


def group_limits(run_dir: Path) -> dict[str, int]:
    """Each share group's delivery count limit, as its members found it in force when they started
    (``group_config`` in their meta: ``share.delivery.count.limit``); groups whose members did not
    say are absent.

    Raises:
        OSError: a meta file cannot be read.
        ValueError: a meta file is not a JSON object.
    """
    limits: dict[str, int] = {}
    for meta_path in sorted((Path(run_dir) / LEDGERS).glob("consumer-*.json")):
        meta = read_meta(meta_path)
        config = meta.get("group_config")
        value = config.get("share.delivery.count.limit") if isinstance(config, dict) else None
        if meta.get("strategy") == SHARE_STRATEGY and isinstance(value, str | int) and str(value).isdigit():
            limits[str(meta.get("group", ""))] = max(1, int(value))
    return limits


def judge_share_run(
    run_dir: Path, limit: int | None = None, examples: int = 10, log: Log | None = None
) -> list[ShareFindings]:
    """Each share group of ``run_dir`` judged against the drained log (``drain/log.bin``, or ``log``
    read already): the valid records of the run's producers are judged, a delivery of any other
    position the log holds is no phantom. ``limit``: the delivery count limit, else each group's
    own (:func:`group_limits`), else :data:`DEFAULT_LIMIT`; each group's records at or past the start
    offsets Kafka reported (:func:`share_starts`) are unreached, not lost. In the order of the groups' names; none
    where the run had no share group member.

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
    limits, starts = group_limits(run_dir), share_starts(run_dir)
    judged, there = log.pos[log.known], unique(log.pos)
    return [
        judge_share(judged, groups[g], limit or limits.get(g, DEFAULT_LIMIT), examples, there, g, starts.get(g, {}))
        for g in sorted(groups)
    ]


def share_starts(run_dir: Path) -> dict[str, dict[int, int]]:
    """Each share group's start offset per partition, as Kafka's share group tool reported them after
    the run (``drain/kafka-offsets.json``, ``share_start``); none where it did not answer."""
    path = Path(run_dir) / DRAIN / KAFKA_OFFSETS
    found = read_meta(path).get("share_start") if path.exists() else None
    if not isinstance(found, dict):
        return {}
    return {
        str(g): {int(p): int(o) for p, o in by.items() if str(p).isdigit() and isinstance(o, int)}
        for g, by in found.items()
        if isinstance(by, dict)
    }
