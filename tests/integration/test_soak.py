"""``kafka-chaos soak`` on a real cluster for 30 s (docs/soak.md): the claims file B3 (acks=all,
min.insync.replicas=2) with one of its two faults drawn every 15 s, watched per window. The half-hour
soaks, lossy and safe, are the documented command with their figures in docs/results.md. Its verdict is
the windows' sum (no drain at its end); the test keeps the ledgers (``--keep-ledgers``), reads the log
back and reconciles it whole to hold the two side by side, then releases the judged windows' rows as
a soak that does not keep them does, and reconciles again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos import rundir
from chaos.cluster import KafkaCluster
from chaos.oracle import reconcile
from chaos.workloads.drain import drain
from chaos.workloads.releasing import release
from chaos.workloads.totals import totals
from tests.helpers.real_cluster import cli

pytestmark = pytest.mark.kafka_cluster(brokers=3)

ROOT = Path(__file__).resolve().parents[2]
B3 = ROOT / "experiments" / "b3-acks-all-min-isr-2-leader-kill-isolation.yaml"


def test_a_soak_is_watched_and_judged_per_window_and_its_windows_are_the_whole_verdict(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    args = ["soak", str(B3), "--duration", "30s", "--every", "15s", "--hold", "5s", "--schedule", "draw"]
    args += ["--keep-ledgers"]  # for the whole reconcile below
    proc = cli(*args, "--cluster", kafka_cluster.run_id, "--reports", str(reports), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "a soak of " in proc.stderr and "iB of ledgers" in proc.stderr  # the disk it needs, said first
    assert "kafka-chaos-tail#" not in proc.stderr  # the tail reader's client logs to the debug log, not here
    said = [line for line in proc.stderr.splitlines() if "soak window " in line]
    (run_dir,) = [p.parent for p in reports.glob("*/*/run.json")]
    lines = [json.loads(text) for text in (run_dir / rundir.SOAK / rundir.SOAK_WINDOWS).read_text().splitlines()]
    assert len(said) == len(lines) and 2 <= len(lines) <= 3  # two windows, and the heal's
    verdict = json.loads((run_dir / rundir.VERDICT).read_text())
    assert verdict["conclusive"] and verdict["loss"]["broker"] == 0 and verdict["loss"]["producer"] == 0

    # one fault drawn per 15 s, from B3's own two, each healed before the next
    timeline = [json.loads(text) for text in (run_dir / rundir.TIMELINE).read_text().splitlines()]
    injected = [e for e in timeline if e.get("event") == "inject"]
    healed = [e for e in timeline if e.get("event") == "heal"]
    assert len(injected) == len(healed) == 2
    assert {e["kind"] for e in injected} <= {"broker_kill", "isolate"}
    assert all(h["t"] < i["t"] for h, i in zip(healed, injected[1:], strict=False))

    summary = json.loads((run_dir / rundir.SOAK / rundir.SOAK_SUMMARY).read_text())
    windows = summary["windows"]
    assert [w["faults"] for w in windows[:2]] == [[e["fault"]] for e in injected]
    # the windows' loss adds up to the verdict's (none here), and every window moved records
    assert sum(w["lost_broker"] + w["lost_producer"] for w in windows) == 0
    assert all(w["acked"] > 0 for w in windows[:2])
    assert sum(w["sent"] for w in windows) <= verdict["counts"]["sent"]
    # judged in windows from the tail reader's copy, the verdict their sum: no drain read the log back
    judged = summary["judged"]
    assert judged["verdict_from_windows"] is True and judged["unjudged"] is None, judged
    assert verdict["details"]["judged_in"] == "windows"
    phases = [p["name"] for p in json.loads((run_dir / "phases.json").read_text())]
    assert "judge" in phases and "drain" not in phases and not (run_dir / rundir.DRAIN / rundir.DRAIN_LOG).exists()
    assert judged["windows"] == len(windows) and judged["totals"]["sent"] == verdict["counts"]["sent"]
    assert all(w["judged"]["sent"] > 0 for w in windows[:2])
    assert not (run_dir / rundir.DRAIN / rundir.TAIL).exists()  # the tail's segments, removed once judged
    # the same figures as the whole run's reconcile, once the test reads the log back itself
    run = json.loads((run_dir / rundir.RUN).read_text())
    drain(kafka_cluster.direct_bootstrap_servers, run["topic"], run["run_id"], run_dir, timeout=120)
    whole = reconcile(run_dir)
    assert whole.conclusive and whole.counts.model_dump() == verdict["counts"]
    assert whole.loss.model_dump() == verdict["loss"]
    assert whole.anomalies["duplicates_in_log"] == verdict["anomalies"]["duplicates_in_log"]
    # each judged window's rows released where its line says they end, as a soak that does not keep
    # them does: the totals stand, the freed blocks are gone from the disk, and a reconcile gives
    # the windows' verdict again (no whole one of what is left)
    led, before = run_dir / rundir.LEDGERS, totals(run_dir)
    judged_lines = [json.loads(t) for t in (run_dir / rundir.SOAK / rundir.SOAK_JUDGED).read_text().splitlines()]
    for line in judged_lines:
        stops = {
            f"producer-{p}{sfx}": r[i] for p, r in line["rows"].items() for i, sfx in enumerate((".events", ".acks"))
        }
        release(led, {name: stop for name, stop in stops.items() if stop is not None})
    release(led, {})
    assert totals(run_dir) == before
    events = next(led.glob("producer-*.events"))
    assert events.stat().st_blocks * 512 < events.stat().st_size  # the first windows' rows are freed
    again = reconcile(run_dir)
    assert again.details.judged_in == "windows" and again.counts.model_dump() == verdict["counts"]
    # every broker's memory, each window, as Docker reports it (a running JVM: a few hundred MiB)
    assert all(len(w["memory_mib"]) >= 2 and all(50 < m < 4096 for m in w["memory_mib"].values()) for w in windows)
    # where the CPU went: the brokers' containers, the workload processes, the harness
    assert all(set(w["cores"]) == {"brokers", "workloads", "harness"} for w in windows)
    assert all(w["cores"]["brokers"] > 0 and w["cores"]["workloads"] > 0 for w in windows[:2])
    assert "windows with faults: " in proc.stdout and "never recovers" not in proc.stdout
    assert "acks stopped" not in proc.stdout
    page = (run_dir / "report.html").read_text()
    assert "<h2>Soak</h2>" in page and page.count("fill='#fde2c4'") >= 2  # each window a fault acted in
