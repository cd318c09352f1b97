"""Rebalances on ledgers a real writer leaves in the corners: a change inside one processed batch,
a kill between a batch's mark and its rows, a change the member never resumed after, a wall clock
stepped back across a restart, a meta whose ``start_ns`` is absurd (docs/verdict.md, ``rebalances``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.oracle import reconcile
from chaos.rundir import LEDGERS
from chaos.workloads.ledger import read_meta, write_meta
from tests.helpers.handmade import write_member
from tests.unit.test_rebalances import two_member_run


@pytest.mark.parametrize("start_ns", [10**28, 1.5e300, -(10**17), 2**63, "0", 10.0**9])
def test_a_member_whose_start_is_not_a_time_is_left_out_and_the_run_reconciles(
    tmp_path: Path, start_ns: object
) -> None:
    """start_ns must be an int in [0, 2**63): c's change (which would add a third) is left out."""
    run = two_member_run(tmp_path)
    write_member(run, "c", "g", [(o, o, 10 * o) for o in range(4)], 8, [2])
    meta = run / LEDGERS / "consumer-c.json"
    write_meta(meta, {**read_meta(meta), "start_ns": start_ns})
    (group,) = reconcile(run).rebalances
    assert (group.changes, group.reprocessed) == (2, 3)
