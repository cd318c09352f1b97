"""The oracle: a pure function of the run directory's files. No Docker, no clock, no network.

Sets of records are sorted arrays of int64 keys (``chaos.oracle.keys``):

* **sent**: intended (the application called send, or committed to its outbox).
* **acked**: the client reported it written at an offset. **unconfirmed**: "written" with no
  offset (``acks=0``). **send_errors**: failures the application saw.
* **in_log**: found by the drain. **processed**: in some consumer's processed ledger.

Every sent record ends in exactly one of: in_log, damaged (its acknowledged position holds a
corrupted value), failed (absent after an error the application saw), unknown, producer loss,
broker loss (docs/verdict.md). Broker loss is broken down by what its acknowledged position holds.
A verdict whose inputs cannot be trusted (an incomplete or gapped drain, a damaged ledger) is
inconclusive: it gives no loss figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.errors import UsageError
from chaos.oracle.acked import AckCheck, broker_causes
from chaos.oracle.anomalies import EXAMPLES, Evidence, find_all
from chaos.oracle.application import judge_application
from chaos.oracle.availability import availability, lost_timeline
from chaos.oracle.broker_loss import BrokerLoss, broker_loss
from chaos.oracle.consumers import Group, consumer_loss, load_groups
from chaos.oracle.epochs import read_progress
from chaos.oracle.examples import example, log_example, position_example
from chaos.oracle.expectations import parse_expectations
from chaos.oracle.fates import NONE as _NONE
from chaos.oracle.fates import Fates, judge_fates
from chaos.oracle.files import write_verdict
from chaos.oracle.keys import I64, SEQ_BITS, Mask, cat, member, union, unique
from chaos.oracle.log import Log, marker_positions, reordered
from chaos.oracle.producers import ProducerInfo, ProducerSide, load_producers
from chaos.oracle.rebalances import rebalances
from chaos.oracle.share import ShareFindings
from chaos.oracle.share_figures import share_metric
from chaos.oracle.share_run import accepted_keys, judge_share_run, start_reasons
from chaos.oracle.transactions import ABORTED, TransactionLog, judge_run, load_transactions
from chaos.oracle.transform import Outputs, load_outputs, output_reasons
from chaos.oracle.trust import assess, witness_summary
from chaos.oracle.verdict import Counts, Verdict, Witness
from chaos.oracle.windows_verdict import not_from_windows, windows_verdict
from chaos.rundir import DRAIN, LEDGERS
from chaos.workloads.ledger import read_meta
from chaos.workloads.released import any_released


def _kafka_counts(run_dir: Path) -> dict[int, int] | None:
    """Records per partition by Kafka's own offsets (``drain/kafka-offsets.json``: end - beginning),
    or None where that reader was not asked or did not answer."""
    path = run_dir / DRAIN / rundir.KAFKA_OFFSETS
    if not path.exists():
        return None
    data = read_meta(path)
    begin, end = data.get("beginning"), data.get("end")
    if not isinstance(begin, dict) or not isinstance(end, dict):
        return None
    return {int(p): int(o) - int(begin.get(p, 0)) for p, o in end.items()}


def _set_aside_aborted(fates: Fates, aborted: I64) -> None:
    """Records of aborted transactions that are not in the log were never meant to be read: they
    end as ``aborted``, not as loss, failure or unknown (an aborted transaction's records stay in
    the log with its abort marker, so most are in_log)."""
    keep = ~member(fates.broker, aborted)
    fates.aborted = int((~keep).sum())
    fates.broker, fates.broker_unconfirmed = fates.broker[keep], fates.broker_unconfirmed[keep]
    for name in ("failed", "producer_lost", "unknown", "damaged"):
        keys = getattr(fates, name)
        out = member(keys, aborted)
        fates.aborted += int(out.sum())
        setattr(fates, name, keys[~out])


def _processed_count(groups: list[Group], sent: I64, accepted: I64) -> int:
    """Distinct sent records processed by any group, a share group's ``accepted`` (sorted unique keys)
    among them (a phantom processed is a phantom); the groups' key sets are released."""
    if len(groups) == 1 and not len(accepted):
        count = int(member(groups[0].keys, sent).sum())
    else:
        processed = unique(cat([g.keys for g in groups] + [accepted]))
        count = int(member(processed, sent).sum())
    for g in groups:
        g.keys = _NONE
    return count


def _read_drain(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``drain.json`` and ``run.json`` (empty where the run wrote none).

    Raises:
        UsageError: the directory has no drain (the run ended before it), or is not a run directory.
    """
    drain_meta_path = run_dir / DRAIN / rundir.DRAIN_META
    if not (run_dir / LEDGERS).is_dir():
        raise UsageError(f"{run_dir} is not a run directory (no {LEDGERS}/): pass reports/<run-id>")
    if not drain_meta_path.exists() and (run_dir / rundir.SOAK / rundir.SOAK_JUDGED).exists():
        why = not_from_windows(run_dir)
        raise UsageError(
            f"{run_dir} is a soak that read no drain back, and its windows cannot make its verdict ({why}): "
            "run the soak again (with --verdict whole to have the whole run reconciled too)"
        )
    if not drain_meta_path.exists():
        raise UsageError(
            f"{run_dir} has ledgers but no completed drain: the run ended before reading the log back, so "
            "nothing can be reconciled; re-run the experiment"
        )
    run_meta = read_meta(run_dir / rundir.RUN) if (run_dir / rundir.RUN).exists() else {}
    return read_meta(drain_meta_path), run_meta


def _of_windows(run_dir: Path) -> bool:
    """Whether ``run_dir`` is a soak judged in windows that make its verdict: it had no drain and
    its windows allow it, or it released its judged ledger rows (then no whole reconcile can).

    Raises:
        UsageError: it released rows and has no judged windows.
    """
    judged = (run_dir / rundir.SOAK / rundir.SOAK_JUDGED).exists()
    if any_released(run_dir / rundir.LEDGERS):
        if not judged:
            raise UsageError(f"{run_dir} released judged ledger rows but has no judged windows: none can reconcile it")
        return True
    if not judged:
        return False
    return not (run_dir / DRAIN / rundir.DRAIN_META).exists() and not_from_windows(run_dir) is None


def _phantoms(log: Log, checked: AckCheck, sent: I64) -> Mask:
    """Records of this run nobody intended, and values of no producer of this run that are not an
    acknowledged record's damaged copy."""
    phantom = log.foreign.copy()
    phantom[checked.claimed] = False
    phantom[log.known] |= ~member(log.keys[log.known], sent)
    return phantom


def _meant(sent: I64, aborted: I64) -> I64:
    """The records meant to be read: a record of an aborted transaction was never meant to be."""
    return sent[~member(sent, aborted)] if len(aborted) else sent


def _loss_examples(
    producers: list[ProducerInfo], lost: BrokerLoss, producer_lost: I64, unknown: I64, damaged: I64
) -> dict[str, list[dict[str, Any]]]:
    """A few records of each loss stage, of the unknown and of the damaged."""
    shown = zip(lost.keys[:EXAMPLES], lost.at[:EXAMPLES], lost.cause[:EXAMPLES], strict=True)
    return {
        "broker": [{**example(producers, int(k), int(at)), "cause": str(c)} for k, at, c in shown],
        "producer": [example(producers, int(k)) for k in producer_lost[:EXAMPLES]],
        "unknown": [example(producers, int(k)) for k in unknown[:EXAMPLES]],
        "damaged": [example(producers, int(k)) for k in damaged[:EXAMPLES]],
    }


def reconcile(run_dir: Path, experiment: str | None = None) -> Verdict:
    """Compute the verdict of ``run_dir`` from its files alone; same files, same answer.

    Expectations are read from ``run_dir/expectations.json`` when present.

    Raises:
        UsageError: the directory has no drain (the run ended before it), is not a run directory, or
            released judged ledger rows without the judged windows.
    """
    run_dir = Path(run_dir)
    if _of_windows(run_dir):  # a soak judged in windows, with no drain: its verdict is its windows' sum, again
        return with_witness(windows_verdict(run_dir, experiment), run_dir)
    drain_meta, run_meta = _read_drain(run_dir)
    rebalanced = rebalances(run_dir)  # first: its peak memory is not added to the log's
    producers = load_producers(run_dir)
    tag_to_index = {p.tag: p.index for p in producers}

    side = ProducerSide(run_dir, producers)
    log = Log(run_dir, tag_to_index)
    markers = marker_positions(drain_meta)
    checked = AckCheck(side, log, markers)

    txns = load_transactions(side)
    fates = judge_fates(side, log, checked)
    aborted = _aborted(txns)
    _set_aside_aborted(fates, aborted)
    committed_log = _committed_view(run_dir, tag_to_index, drain_meta)
    committed: dict[str, dict[str, int]] = drain_meta.get("committed", {})
    # The oracle's peak is reading the groups (each member's positions and keys, 16 bytes a row,
    # beside the log's columns): sent is held as its runs meanwhile, where it is a few ranges.
    side.hold_sent_as_runs()
    groups = load_groups(run_dir, tag_to_index, log, EXAMPLES, committed_log)
    side.restore_sent()
    outputs = _transformed(run_dir, tag_to_index, side.sent, groups, log, committed_log)
    # a black box: its processing is the inputs it wrote an output for (groups gains it)
    ids = {p.index: p.id for p in producers}
    app, app_reasons = judge_application(
        run_dir, outputs, groups, side.sent, log, side.ack_positions, lambda k: side.first_acks(k)[1], ids
    )
    meant = _meant(side.sent, aborted)
    consumer = consumer_loss(
        groups,
        committed,
        log,
        meant,
        EXAMPLES,
        committed_log,
        lambda keys: side.first_acks(keys)[1],
    )
    # share groups: their own consumer loss, of the records meant to be read
    shared = judge_share_run(run_dir, examples=EXAMPLES, log=log, meant=meant, committed_log=committed_log)
    at = side.ack_positions(fates.broker)
    cause = broker_causes(fates.broker, at, log, fates.broker_unconfirmed, drain_meta, markers)
    # Records retention removed are not missing from a transaction: they were there, and went.
    there = union(fates.damaged, fates.broker[cause == "below_log_start"])
    found = judge_run(txns, groups, committed_log, EXAMPLES, there) if txns is not None else None
    lost, compaction = broker_loss((fates.broker, at, cause), producers, fates.producer_lost, log, drain_meta, groups)
    unknown, producer_lost = union(fates.unknown, compaction.doubtful), fates.producer_lost[~compaction.doubtful_mask]
    # The groups' key sets are last used above: released before the log's own passes below.
    processed = _processed_count(groups, side.sent, accepted_keys(run_dir, tag_to_index))
    phantom = _phantoms(log, checked, side.sent)
    order, progress = reordered(log, EXAMPLES), read_progress(run_dir)
    evidence = Evidence(log, producers, groups, checked, phantom, order, fates.duplicates, found, outputs, progress)
    cases = find_all(evidence)
    trust = assess(
        drain_meta,
        log,
        side.invalid_rows + sum(g.invalid_rows for g in groups) + sum(s.invalid_rows for s in shared),
        _kafka_counts(run_dir),
        committed_log,
        transactional=txns is not None,
    )
    trust.reasons += output_reasons(outputs, any(g.transformer for g in groups)) + compaction.reasons
    trust.reasons += app_reasons + start_reasons(run_dir, shared)
    counts = Counts(
        sent=len(side.sent),
        acked=fates.acked,
        unconfirmed=len(side.unconfirmed),
        send_errors=len(side.seen),
        failed=len(fates.failed),
        unknown=len(unknown),
        in_log=fates.in_log,
        damaged=len(fates.damaged),
        aborted=fates.aborted,
        expired=lost.expired,
        superseded=lost.superseded,
        processed=processed,
        unprocessed=consumer.unprocessed,
        overwritten_unread=consumer.overwritten_unread,
    )
    examples = {
        **_loss_examples(producers, lost, producer_lost, unknown, fates.damaged),
        "consumer": _consumer_examples(consumer.examples, shared, log, producers),
        **{name: c.examples for name, c in cases.items()},
    }
    run_id, name = _names(run_dir, run_meta, experiment)
    indexed = [(p.index, p.id) for p in producers]
    lost_sent = lost_timeline(run_dir, indexed, {"broker": lost.keys, "producer": producer_lost, "unknown": unknown})
    unknown_sent = lost_sent.pop("unknown", [])
    verdict = Verdict.build(
        run_id=run_id,
        experiment=name,
        counts=counts,
        loss={
            "producer": len(producer_lost),
            "broker": len(lost.keys),
            "consumer": consumer.lost + share_metric(shared, "lost"),
        },
        anomalies={name: c.count for name, c in cases.items()},
        transform=outputs and outputs.as_dict(),
        application=app,
        availability=availability(run_dir),
        rebalances=rebalanced,
        share=shared,
        lost_sent=lost_sent,
        unknown_sent=unknown_sent,
        transactions=found and found.as_dict(),
        causes={"broker": lost.counts},
        examples=examples,
        trust=trust.model(),
        details={
            "producers": {p.id: p.mode for p in producers},
            "groups": {g.name: g.members for g in groups},
            "committed": committed,
            "log_records": len(log),
            "drain_complete": bool(drain_meta.get("complete", False)),
        },
    )
    return _judged(with_witness(verdict, run_dir), run_dir)


def _consumer_examples(
    classic: list[tuple[Log, int, str]], shared: list[ShareFindings], log: Log, producers: list[ProducerInfo]
) -> list[dict[str, Any]]:
    """A few records of consumer loss, each naming its group: the classic groups' first, then the
    share groups' lost records."""
    found = [{**log_example(view, producers, i), "group": g} for view, i, g in classic[:EXAMPLES]]
    for s in shared:
        at = [(p << SEQ_BITS) | o for p, o in s.examples.get("lost", [])]
        found += [{**position_example(log, producers, pos), "group": s.group} for pos in at]
    return found[:EXAMPLES]


def _aborted(txns: TransactionLog | None) -> I64:
    """The records of aborted transactions (none in a run without transactional producers)."""
    return txns.records(ABORTED) if txns is not None else np.empty(0, np.int64)


def _committed_view(run_dir: Path, tag_to_index: dict[int, int], drain: dict[str, Any]) -> Log | None:
    """The drain's read_committed view of the log, where it read one."""
    return Log(run_dir, tag_to_index, rundir.DRAIN_COMMITTED) if drain.get("committed_view") else None


def _names(run_dir: Path, run_meta: dict[str, Any], experiment: str | None) -> tuple[str, str]:
    """The verdict's ``run_id`` and ``experiment``: as given, as ``run.json`` says, or the folder's name."""
    return str(run_meta.get("run_id") or run_dir.name), experiment or str(run_meta.get("experiment") or "")


def _judged(verdict: Verdict, run_dir: Path) -> Verdict:
    """``verdict`` judged by ``expectations.json``, where the run wrote one."""
    path = run_dir / rundir.EXPECTATIONS
    return verdict.judged(parse_expectations(json.loads(path.read_text()))) if path.exists() else verdict


def _transformed(
    run_dir: Path, tag_to_index: dict[int, int], sent: I64, groups: list[Group], log: Log, committed_log: Log | None
) -> Outputs | None:
    """The transformer's outputs; a transformer group's processing becomes its committed outputs."""
    transformers = [g for g in groups if g.transformer]
    read_by_transformer = log
    if transformers and transformers[0].read_committed and committed_log:
        read_by_transformer = committed_log
    read_copies = transformers[0].read_copies if transformers else None
    outputs = load_outputs(run_dir, tag_to_index, sent, EXAMPLES, read_by_transformer, read_copies)
    for g in transformers:  # a transformer's processing is its committed outputs
        g.keys = outputs.inputs.copy() if outputs is not None else _NONE
    return outputs


def with_witness(verdict: Verdict, run_dir: Path) -> Verdict:
    """``verdict`` with what the second witness saw (``drain/witness.json``): a summary under
    ``trust.witness``, each record under ``details.witness``. It informs; the figures do not change,
    so a harness that runs the witness after reconciling adds it instead of reconciling again."""
    path = Path(run_dir) / DRAIN / rundir.WITNESS
    witnessed = read_meta(path) if path.exists() else None
    summary = witness_summary(witnessed)
    verdict = verdict.with_trust(verdict.trust.model_copy(update={"witness": Witness(**summary) if summary else None}))
    return verdict.with_details(witness=witnessed.get("checked", [])) if witnessed else verdict


def reconcile_and_write(run_dir: Path) -> Verdict:
    """:func:`reconcile`, then (re)write ``run_dir/verdict.json``."""
    verdict = reconcile(run_dir)
    write_verdict(run_dir, verdict)
    return verdict
