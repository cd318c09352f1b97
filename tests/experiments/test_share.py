"""Share groups (KIP-932) on a real cluster, judged against a truth the oracle does not compute.

S2's members refuse every record whose seq is a multiple of 100 and accept every other one, so
which records the broker must archive at the delivery limit follows from the drained log alone
(Kafka's own records, read back by the drain), and so does every delivery count: a poison record
is delivered exactly ``limit`` times, any other exactly once. S1, S2r and S3 (the claims suite runs
them too) are ``extended``: ``scripts/setup``'s main job runs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chaos import rundir
from chaos.workloads.envelope import Status, producer_tag
from chaos.workloads.ledger import LOG_RECORD, read_meta
from tests.experiments.test_releases import run_suite

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
S2 = EXPERIMENTS / "s2-share-poison-record-released-past-the-delivery-limit.yaml"

pytestmark = pytest.mark.experiment


def the_run(tmp_path: Path, path: Path) -> tuple[Path, dict[str, Any]]:
    """Run ``path`` on the Java client (the only one with a share consumer): its run directory and
    verdict, once it passed."""
    proc, suite, _ = run_suite(tmp_path, str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run,) = suite["runs"]
    run_dir = Path(run["run_dir"])
    return run_dir, json.loads((run_dir / rundir.VERDICT).read_text())


def poison_truth(run_dir: Path, every: int) -> tuple[set[tuple[int, int]], int]:
    """The positions of this run's poison records in the drained log, and how many records of the
    run it holds: from the drain's own file, not from any ledger."""
    log = np.fromfile(run_dir / rundir.DRAIN / rundir.DRAIN_LOG, dtype=LOG_RECORD)
    tag = producer_tag(str(read_meta(run_dir / rundir.LEDGERS / "producer-p0.json")["producer"]))
    ours = log[(log["status"] == Status.VALID) & (log["tag"] == tag)]
    poison = ours[ours["seq"] % every == 0]
    return {(int(p), int(o)) for p, o in zip(poison["partition"], poison["offset"], strict=True)}, len(ours)


def test_s2_archives_exactly_the_poison_records_after_exactly_limit_deliveries(tmp_path: Path) -> None:
    run_dir, v = the_run(tmp_path, S2)
    (group,) = v["share"]
    poison, records = poison_truth(run_dir, every=100)
    limit = 3  # the file's group.share.delivery.count.limit, as the members found it in force
    assert group["limit"] == limit and group["records"] == records
    assert len(poison) > 0 and group["archived_at_limit"] == len(poison), (group, len(poison))
    assert {tuple(p) for p in group["examples"]["archived_at_limit"]} <= poison
    assert group["accepted"] == records - len(poison) and group["accepted_twice"] == 0
    # a poison record is delivered limit times (released on each), any other once
    assert group["deliveries"] == records + (limit - 1) * len(poison)
    assert group["redelivered"] == len(poison)
    assert group["lost"] == group["rejected"] == group["held"] == 0
    assert group["anomalies"] == {"double_delivery": 0, "past_limit": 0, "count_regression": 0, "phantom": 0}
    assert v["loss"] == {"producer": 0, "broker": 0, "consumer": 0}
    assert v["counts"]["processed"] == records - len(poison)
    assert "archived at the delivery limit (3)" in (run_dir / "summary.md").read_text()


@pytest.mark.extended
def test_s1_a_member_killed_holding_records_has_each_of_them_delivered_again(tmp_path: Path) -> None:
    run_dir, v = the_run(tmp_path, EXPERIMENTS / "s1-share-member-killed-holding-records.yaml")
    (group,) = v["share"]
    assert group["held"] > 0 and group["redelivered"] >= group["held"], group
    assert group["accepted"] == group["records"] and group["lost"] == 0, group
    events = map(json.loads, (run_dir / rundir.TIMELINE).read_text().splitlines())
    kills = [e for e in events if e.get("event") == "inject"]
    assert [k["params"]["when"] for k in kills] == ["holding"]


@pytest.mark.extended
def test_s2r_rejects_exactly_the_poison_records_on_their_first_delivery(tmp_path: Path) -> None:
    run_dir, v = the_run(tmp_path, EXPERIMENTS / "s2r-share-poison-record-rejected.yaml")
    (group,) = v["share"]
    poison, records = poison_truth(run_dir, every=100)
    assert group["rejected"] == len(poison) > 0 and group["archived_at_limit"] == 0, group
    assert group["deliveries"] == records and group["accepted"] == records - len(poison)


@pytest.mark.extended
def test_s3_the_share_coordinator_killed_loses_nothing(tmp_path: Path) -> None:
    run_dir, v = the_run(tmp_path, EXPERIMENTS / "s3-share-coordinator-killed.yaml")
    (group,) = v["share"]
    assert group["accepted"] == group["records"] > 0 and group["lost"] == 0, group
    events = map(json.loads, (run_dir / rundir.TIMELINE).read_text().splitlines())
    kills = [e for e in events if e.get("event") == "inject"]
    assert kills and kills[0]["kind"] == "broker_kill" and kills[0]["targets"], kills
