"""Bad input: one clear sentence, a non-zero exit, and no Docker needed to say so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cluster", "up", "--brokers", "0"], 2, "at least 1 broker"),
        (["cluster", "up", "--kafka-version", "four"], 2, "not a release number"),
        (["cluster", "up", "--broker-config", "novalue"], 2, "not KEY=VALUE"),
        (["cluster", "up", "--broker-config", "node.id=4"], 2, "the harness sets per node"),
        (["cluster", "up", "--run-id", "Bad Id"], 2, "run id"),
        (["cluster", "up", "--security", "tls"], 2, "'tls' is not one of 'none', 'sasl_ssl'"),
        (["images", "build", "--kafka-version", "2.8.0"], 2, "too old"),
        (["cluster", "up", "--brokers", "many"], 2, "not a valid integer"),
        (["no-such-command"], 2, "No such command"),
        (["cluster", "fault", "broker_kil"], 2, "unknown fault kind 'broker_kil'"),
        (["cluster", "fault", "broker_kill", "-p", "targt=leader"], 2, "no parameter 'targt'"),
        (["cluster", "fault", "broker_kill", "-p", "target=leder:t:0"], 2, "leder"),
        (["cluster", "fault", "latency", "-p", "delay_ms=fast"], 2, "delay_ms='fast' has the wrong type"),
        (["cluster", "fault", "client_kill", "-p", "workload=producer-p0"], 2, "acts on a run's workloads"),
        (["cluster", "fault", "isolate", "-p", "broker-1"], 2, "not KEY=VALUE"),
        (["cluster", "fault", "isolate", "--duration", "0"], 2, "--duration"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(args: list[str], code: int, message: str) -> None:
    proc = run(*args)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_docker_exits_3_and_says_how_to_fix() -> None:
    proc = run("cluster", "up", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 3
    assert "no Docker engine answers at unix:///nonexistent/docker.sock" in proc.stderr
    assert "`apt-get install docker.io` as root, then `dockerd &`), or point DOCKER_HOST at an engine" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_doctor_reports_a_missing_engine() -> None:
    proc = run("doctor", "--json", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 3
    assert '"check": "docker engine"' in proc.stdout


def test_the_command_line_starts_without_the_runner_or_a_kafka_client() -> None:
    # Every command imports what it runs on first use; start-up, --help and bad input stay fast
    # (about 0.35 CPU-s here, against 1.2 when validate's module pulled in the whole runner).
    probe = "import sys, chaos.cli; print(sorted(m for m in {} if m in sys.modules))".format(
        ("kafka", "chaos.cluster.cluster", "chaos.experiments.runner", "chaos.validate.matrix")
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout


def test_a_given_cluster_with_options_that_start_their_own_or_run_none_exits_2() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    b2 = root / "experiments" / "b2-acks1-leader-kill-lagging-followers.yaml"
    proc = run("run", str(b2), "--cluster", "20261129-000000-abcd", "--fresh-cluster")
    assert proc.returncode == 2 and "--fresh-cluster starts new ones: pick one" in proc.stderr, proc.stderr
    examples = root / "examples" / "settings"
    files = ["--producer-config", str(examples / "producer-safe.properties")]
    files += ["--consumer-config", str(examples / "consumer-manual-commit.properties")]
    proc = run("validate", *files, "--static-only", "--cluster", "20261129-000000-abcd")
    assert proc.returncode == 2 and "--static-only runs no fault matrix" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_malformed_properties_file_is_bad_input_before_a_jdk_is_sought(tmp_path: Path) -> None:
    # on a machine with no JDK at all, the file's mistake is still exit 2 (bad input), not 3
    nothing = tmp_path / "no-jdk"
    nothing.mkdir()
    bad = tmp_path / "producer.properties"
    bad.write_text("acks=all\nbroken\\u12\n")  # a \u escape cut short: java.util.Properties refuses it
    good = Path(__file__).resolve().parents[2] / "examples" / "settings" / "consumer-manual-commit.properties"
    args = ("validate", "--producer-config", str(bad), "--consumer-config", str(good), "--static-only")
    proc = run(*args, env={"JAVA_HOME": str(nothing), "PATH": str(nothing)})
    assert proc.returncode == 2, proc.stderr
    assert "producer.properties" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_validate_told_to_write_reports_under_a_file_says_so_and_writes_nothing(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    examples = Path(__file__).resolve().parents[2] / "examples" / "settings"
    files = ["--producer-config", str(examples / "producer-safe.properties")]
    files += ["--consumer-config", str(examples / "consumer-manual-commit.properties")]
    proc = run("validate", "--static-only", *files, "--reports", str(afile / "sub"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"kafka-chaos: {afile / 'sub'} is not a directory: give --reports a directory (it is created if missing)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("command", ["run", "explore"])
def test_run_and_explore_told_to_write_reports_under_a_file_say_so_before_anything_starts(
    command: str, tmp_path: Path
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    experiment = Path(__file__).resolve().parents[2] / "experiments" / "b1-acks0-leader-kill.yaml"
    proc = run(command, str(experiment), "--reports", str(afile / "sub"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"kafka-chaos: {afile / 'sub'} is not a directory: give --reports a directory (it is created if missing)"
    )
