"""The claims suite, end to end: a representative subset on every CI run — one experiment per stage
and per fault family (broker process kills and pauses, broker network isolation, client process
kills, client network through toxiproxy); ``kafka-chaos run experiments/`` runs all of it. B3 (a
safe setting's leader kill and isolation), C1, P3 and ``--client all`` are ``extended``: ``scripts/setup``'s
main job runs them beside the claims suite, to keep the test command within its time.

Each test runs an experiment file from ``experiments/`` on its own cluster through the pytest plugin's
``run_experiment`` fixture, which fails the test when an expectation fails and attaches the verdict.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.oracle import Verdict
from chaos.oracle.anomalies import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"

pytestmark = pytest.mark.experiment


#: A producer kill on one broker: these tests are about the CLI, the plugin and the reports, which
#: do not depend on the cluster's size (the claims above run on three).
SYNC = """\
name: {name}
cluster: {{brokers: 1}}
topic: {{replication_factor: 1}}
producer:
  mode: sync
  rate: 200
  settings: {{acks: all}}
consumer:
  strategy: after_process
  settings: {{session.timeout.ms: 6000, heartbeat.interval.ms: 1500}}
faults:
  - {{kind: client_kill, workload: producer-p0, at: 1, duration: 1}}
phases: {{warmup: 1, settle: 2}}
expect:
  producer_loss: "{expect}"
"""


def test_cli_suite_writes_every_report_and_exits_1_when_an_expectation_fails(tmp_path: Path) -> None:
    suite = tmp_path / "experiments"
    suite.mkdir()
    (suite / "a.yaml").write_text(SYNC.format(name="sync-kill-holds", expect="0"))
    (suite / "b.yaml").write_text(SYNC.format(name="sync-kill-expected-to-lose", expect=">0"))
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "run", str(suite), "--reports", str(tmp_path / "reports"), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1/2 passed" in proc.stdout
    assert "expected producer_loss > 0, got 0" in proc.stdout
    (suite_dir,) = (tmp_path / "reports").iterdir()
    data = json.loads((suite_dir / "suite.json").read_text())
    assert [r["status"] for r in data["runs"]] == ["passed", "failed"]
    # one shape, one cluster: the second run had it reset, and every report says so
    assert [r["cluster"] for r in data["runs"]] == ["fresh", "reused"]
    assert data["runs"][0]["cluster_id"] == data["runs"][1]["cluster_id"]
    assert "2 runs on 1 cluster, 1 reused after a reset" in (suite_dir / "summary.md").read_text()
    assert "cluster reused" in (Path(data["runs"][1]["run_dir"]) / "report.html").read_text()
    for run in data["runs"]:
        run_dir = Path(run["run_dir"])
        for name in ("verdict.json", "junit.xml", "summary.md", "report.html", "timeline.jsonl", "phases.json"):
            assert (run_dir / name).exists(), f"{run_dir}/{name}"
        assert list((run_dir / "logs").glob("*.log")), "broker logs copied at teardown"
        # the configuration in force, as the cluster describes it, and named in the report
        config = json.loads((run_dir / "cluster-config.json").read_text())
        assert config["cluster_id"] and list(config["brokers"]) == ["1"], config.get("error")
        assert config["brokers"]["1"]["node.id"] == {"value": "1", "source": "STATIC_BROKER_CONFIG"}
        (topic,) = config["topic"].values()
        assert topic["min.insync.replicas"]["value"] == "1"
        assert f"Cluster id:</b> {config['cluster_id']}" in (run_dir / "report.html").read_text()
        # everything reconcile needs is there: the CLI recomputes the same verdict from the files alone
        again = subprocess.run(
            [sys.executable, "-m", "chaos.cli", "reconcile", str(run_dir), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        recomputed = json.loads(again.stdout)
        assert recomputed["loss"] == run["loss"] and recomputed["counts"] == run["counts"]
    junit = ET.parse(suite_dir / "junit.xml").getroot()
    assert junit.get("tests") == "2" and junit.get("failures") == "1"
    assert "sync-kill-expected-to-lose" in (suite_dir / "summary.md").read_text()


def test_a_malformed_experiment_file_fails_collection_with_its_line(pytester: pytest.Pytester) -> None:
    experiments = pytester.mkdir("experiments")
    (experiments / "bad.yaml").write_text("name: bad\nproducer:\n  rate: -1\n")
    opted_in = ("--kafka-chaos-experiments", "experiments/*.yaml")
    result = pytester.runpytest_subprocess("experiments", *opted_in, "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.yaml:3: producer.rate: must be greater than 0*"])


@pytest.mark.extended
def test_client_all_runs_the_file_on_every_client_and_puts_them_side_by_side(tmp_path: Path) -> None:
    # The same process kill reaches each client the same way; the suite report lines them up.
    suite = tmp_path / "experiments"
    suite.mkdir()
    (suite / "a.yaml").write_text(SYNC.format(name="sync-kill-holds", expect="0"))
    args = ["run", str(suite), "--client", "all", "--reports", str(tmp_path / "reports"), "-q"]
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3/3 passed" in proc.stdout
    (suite_dir,) = (tmp_path / "reports").iterdir()
    clients = ("kafka-python", "librdkafka", "java")
    for client in clients:
        run_dir = suite_dir / f"sync-kill-holds.{client}"
        meta = json.loads((run_dir / "ledgers" / "producer-p0.json").read_text())
        assert meta["client"] == client and meta["mode"] == "sync"
        assert json.loads((run_dir / "run.json").read_text())["client"] == client
        events = [json.loads(line) for line in (run_dir / "timeline.jsonl").read_text().splitlines()]
        assert any(e.get("kind") == "client_kill" and e.get("event") == "inject" for e in events), events
    summary = (suite_dir / "summary.md").read_text()
    assert "| claim | experiment | kafka-python | librdkafka | java |" in summary
    assert "|  | sync-kill-holds | " + " | ".join(["PASS 0/0/0"] * 3) + " |" in summary, summary
    assert "How often each stage" not in summary  # three clients are not three repetitions
    assert "<th>java</th>" in (suite_dir / "report.html").read_text()


# The claims, each on the session pool's cluster of its shape (b3, p3, p1 and c1 share one).
def test_b2_acks1_leader_kill_loses_acknowledged_records_in_the_broker(run_experiment: Callable[..., Verdict]) -> None:
    v = run_experiment(EXPERIMENTS / "b2-acks1-leader-kill-lagging-followers.yaml")
    assert v.figures.broker > 0 and v.figures.producer == 0
    # An example names where the broker acknowledged the record it then lost: a real position, of a
    # record sent (a partition holds no more offsets than records were sent); the exact offsets of
    # examples are held by the oracle's unit tests
    example = v.examples["broker"][0]
    assert example["producer"] == "p0" and example["partition"] in (0, 1, 2), example
    assert 0 <= example["seq"] < v.counts.sent and 0 <= example["offset"] < v.counts.sent, example
    # availability of each fault: the frozen followers and the killed leader, healed and back in the ISR
    assert [f.kind for f in v.availability] == ["broker_pause", "broker_kill"], v.availability
    for f in v.availability:
        assert f.healed is not None and f.heal_to_full_isr_s is not None, f
        before = f.latency_ms["before"]  # milliseconds: no ack comes after the 120 s delivery timeout
        assert before is not None and before.records > 0 and 0 <= before.p50 <= before.p99 < 120_000, f
    assert sum(n for _, n in v.lost_sent["broker"]) == v.figures.broker


@pytest.mark.extended
def test_b3_acks_all_min_isr_2_survives_leader_kill_and_isolation(run_experiment: Callable[..., Verdict]) -> None:
    v = run_experiment(EXPERIMENTS / "b3-acks-all-min-isr-2-leader-kill-isolation.yaml")
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    assert v.counts.acked > 0 and v.counts.in_log >= v.counts.acked


@pytest.mark.extended  # toxiproxy's faults on clients: tests/integration/test_faults.py's toxics in the command
def test_p3_retries_without_idempotence_write_duplicates(run_experiment: Callable[..., Verdict]) -> None:
    v = run_experiment(EXPERIMENTS / "p3-no-idempotence-lost-responses.yaml")
    assert v.anomalies["duplicates_in_log"] > 0 and v.figures.broker == 0
    assert len(v.examples["duplicates_in_log"]) == min(EXAMPLES, v.anomalies["duplicates_in_log"])


def test_p1_fire_and_forget_producer_kill_loses_in_the_producer(run_experiment: Callable[..., Verdict]) -> None:
    v = run_experiment(EXPERIMENTS / "p1-fire-and-forget-producer-kill.yaml")
    assert v.figures.producer > 0 and v.figures.broker == 0


@pytest.mark.extended  # consumer loss on a kill: C3n here, and the scenario tests' auto-commit kill
def test_c1_auto_commit_consumer_kill_loses_in_the_consumer(run_experiment: Callable[..., Verdict]) -> None:
    v = run_experiment(EXPERIMENTS / "c1-auto-commit-batched-consumer-kill.yaml")
    assert v.figures.consumer > 0 and v.figures.broker == 0


def test_c3n_consumer_protocol_member_kill_loses_nothing_and_reports_its_rebalances(
    run_experiment: Callable[..., Verdict],
) -> None:
    """C3n (on librdkafka, as the file says): the consumer group protocol (KIP-848) run by the
    broker, one of two members killed; the verdict counts the changes the kill and the return made."""
    v = run_experiment(EXPERIMENTS / "c3n-per-partition-commit-consumer-kill-consumer-protocol.yaml")
    assert v.loss.model_dump() == {"producer": 0, "broker": 0, "consumer": 0}
    (group,) = v.rebalances
    # the killed member's restart is a change, and across it that member processed nothing while it
    # was down (3 s)
    assert group.changes >= 1 and group.pause_ms is not None, group
    assert group.pause_ms.max >= 3000, group


# Last, right after the experiments: the fixture's cluster is the one they ran on (same shape), reset,
# and it is removed with the module instead of idling through the tests above.
def test_scenario_fixture_heals_and_judges(scenario: object) -> None:
    from chaos.scenario import Scenario

    assert isinstance(scenario, Scenario)
    # librdkafka: kafka-python 3.0's sender can stay stuck after a leader that was killed and restarted
    # within its metadata refresh (UnknownBrokerIdError for the old leader, raised on every loop and
    # never followed by a metadata update; seen once in CI). This test is about the fixture.
    producer = scenario.producer(mode="sync", rate=300, client="librdkafka", settings={"acks": "all"})
    producer.start()
    before = scenario.wait_for("acked", 100)  # the producer is running before the fault
    fault = scenario.inject("broker_kill", target="leader")
    assert fault.active and fault.targets
    scenario.heal_all()
    assert not fault.active
    scenario.wait_for("acked", before + 300)  # and goes on after the heal
    assert producer.stop(60) == 0, producer.log_tail()
    v = scenario.verdict(expect={"total_loss": 0})
    assert v.passed, v.model_dump(mode="json")
    assert v.counts.in_log >= before + 300
