"""Consume-transform-produce: what the output topic holds for each input record.

Each output record names its input (``chaos.workloads.transform``), so ``drain/output.bin`` — the
output topic as a read_committed reader sees it — is read by input key. A transformer group's
processing is its committed outputs: its consumer loss is the input records below its committed
offsets that have no output, and an input with more outputs than it has copies in the input log is a
duplicate output (what exactly-once promises never to give). An input written twice (a producer's
retry without idempotence) is two inputs to the transformer, and one output for each is what
exactly-once gives: those copies are the input log's duplicates, not the transformer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chaos import rundir
from chaos.oracle.keys import I64, member
from chaos.oracle.log import Log
from chaos.rundir import DRAIN
from chaos.workloads.ledger import read_meta


@dataclass(slots=True)
class Outputs:
    """The output topic read back: its input keys (sorted unique, of sent records), copies beyond
    the first, outputs naming no sent input, and the drain's own account."""

    log: Log
    inputs: I64
    duplicates: int
    unknown_inputs: int
    meta: dict[str, Any] = field(default_factory=dict)
    duplicate_examples: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The verdict's ``transform`` field."""
        return {
            "topic": self.meta.get("topic"),
            "records": len(self.log),
            "inputs_with_output": len(self.inputs),
            "duplicate_outputs": self.duplicates,
            "outputs_of_no_input": self.unknown_inputs,
        }


def load_outputs(
    run_dir: Path,
    tag_to_index: dict[int, int],
    sent: I64,
    limit: int,
    input_view: Log | None = None,
    read_copies: tuple[I64, I64] | None = None,
) -> Outputs | None:
    """The output topic's drain (None: the run had no transformer, or its output was not drained).

    An input may have as many outputs as copies of it the transformer read: those ``input_view``
    (the input topic as it reads it) holds, or those at distinct positions its processed rows name
    (``read_copies``: sorted unique input keys and their counts; retention may have removed a copy
    it read), whichever is more; one at least."""
    meta_path = run_dir / DRAIN / rundir.DRAIN_OUTPUT_META
    if not meta_path.exists():
        return None
    out = Log(run_dir, tag_to_index, rundir.DRAIN_OUTPUT)
    known_idx = np.flatnonzero(out.known)
    order = np.argsort(out.keys[known_idx], kind="stable")  # by input, output order kept inside
    by_input = out.keys[known_idx][order]
    distinct, first, outputs = np.unique(by_input, return_index=True, return_counts=True)
    allowed = np.ones(len(distinct), dtype=np.int64)
    if input_view is not None:
        copies = np.sort(input_view.keys[input_view.known], kind="stable")
        allowed = np.maximum(np.searchsorted(copies, distinct, "right") - np.searchsorted(copies, distinct), 1)
    if read_copies is not None and len(read_copies[0]):
        read_keys, read_counts = read_copies
        at = np.minimum(np.searchsorted(read_keys, distinct), len(read_keys) - 1)
        allowed = np.maximum(allowed, np.where(read_keys[at] == distinct, read_counts[at], 1))
    known = member(distinct, sent)
    excess = np.where(known, np.maximum(outputs - allowed, 0), 0)  # no input sent: not a duplicate of one
    examples: list[int] = []
    for i in np.flatnonzero(excess)[:limit]:  # the copies beyond the allowed ones, in output order
        lo = int(first[i] + allowed[i])
        examples += [int(known_idx[j]) for j in order[lo : lo + int(excess[i])]]
    return Outputs(
        log=out,
        inputs=distinct[known],
        duplicates=int(excess.sum()),
        unknown_inputs=int((~known).sum()) + int((~out.known).sum()),
        meta=read_meta(meta_path),
        duplicate_examples=examples[:limit],
    )


def output_reasons(outputs: Outputs | None, transformers: bool) -> list[str]:
    """What makes a verdict on a transformer's outputs unsure (empty: nothing)."""
    if not transformers:
        return []
    if outputs is None:
        return ["the run has a consume-transform-produce member but its output topic was not drained"]
    reasons = []
    if not outputs.meta.get("complete", False):
        reasons.append(f"the drain of the output topic did not complete: {outputs.meta.get('incomplete')}")
    if int(outputs.meta.get("records", -1)) != len(outputs.log):
        reasons.append(
            f"drain/output.bin holds {len(outputs.log)} records but the drain wrote {outputs.meta.get('records')}"
        )
    return reasons
