"""A delayed EndTxn on a real cluster: held in the network, retried, then delivered while the
producer's next transaction is open and frozen part written.

Kafka's own transactions tool is the second witness: after the stale commit is delivered (the
producer still frozen, so nothing of its own can have ended the transaction), it lists the
producer's transaction ``CompleteCommit`` on version 1 (the stale commit took) and ``Ongoing`` on
version 2 (fenced). The oracle must then find the transaction torn on version 1, no more of it
visible than the producer had sent when frozen, and nothing torn on version 2.

T6v1 on the Java client is in the test command (about 40 s); T6v2 is ``extended`` and runs in
``scripts/setup``'s main job with the claims.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaos import rundir
from tests.experiments.test_releases import run_suite

ROOT = Path(__file__).resolve().parents[2]
T6 = ROOT / "experiments" / "t6-delayed-commit-lands-on-the-next-transaction-tv{}.yaml"

pytestmark = pytest.mark.experiment


def the_run(tmp_path: Path, version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run T6 on transaction ``version`` (the file's Java client): its verdict and the fault's
    timeline events, once the run passed."""
    proc, suite, _ = run_suite(tmp_path, str(T6).format(version))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run,) = suite["runs"]
    run_dir = Path(run["run_dir"])
    events = [json.loads(line) for line in (run_dir / rundir.TIMELINE).read_text().splitlines()]
    return json.loads((run_dir / rundir.VERDICT).read_text()), [e for e in events if e.get("kind") == "end_txn_delay"]


def test_t6v1_a_stale_commit_commits_the_open_transaction_part_written(tmp_path: Path) -> None:
    verdict, events = the_run(tmp_path, 1)
    held = next(e for e in events if e["event"] == "end_txn_held")
    delivered = next(e for e in events if e["event"] == "end_txn_delivered")
    assert sum(n for ports in held["held"].values() for n in ports.values()) > 0
    assert list(delivered["states"].values()) == ["CompleteCommit"], delivered
    (torn,) = verdict["examples"]["torn_transaction"]
    assert 0 < torn["visible"] <= held["open_records"] < torn["records"], (torn, held)
    assert verdict["counts"]["send_errors"] > 0
    assert verdict["anomalies"]["lost_committed_write"] == 0 and sum(verdict["loss"].values()) == 0


@pytest.mark.extended
def test_t6v2_the_stale_commit_is_fenced(tmp_path: Path) -> None:
    verdict, events = the_run(tmp_path, 2)
    delivered = next(e for e in events if e["event"] == "end_txn_delivered")
    assert list(delivered["states"].values()) == ["Ongoing"], delivered
    assert verdict["anomalies"]["torn_transaction"] == 0 and verdict["anomalies"]["aborted_read"] == 0
    assert verdict["transactions"]["unknown"] == 0 and sum(verdict["loss"].values()) == 0
