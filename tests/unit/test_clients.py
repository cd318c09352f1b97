"""The clients' settings, their choice in files and on the command line, the librdkafka adapters'
delivery semantics and the Java driver's build, without a cluster (``tests/integration/test_clients.py``
runs every client on a real one)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import InfrastructureError, UsageError
from chaos.experiments.loading import load_experiment, load_suite
from chaos.experiments.model import ExperimentFileError
from chaos.images.java_driver import JavaDriver, find_jdk
from chaos.oracle.verdict import Counts, Loss, Verdict
from chaos.reports import RunReport, occurrence_rates
from chaos.reports.markdown import side_by_side, suite_markdown
from chaos.reports.words import settings_line
from chaos.results import SuiteFile
from chaos.workloads.clients import CLIENTS, check_client, resolve_settings
from chaos.workloads.java_settings import JAVA_CONSUMER_KEYS, JAVA_PRODUCER_KEYS
from chaos.workloads.rdkafka import Delivered, DeliveryFuture, error_type
from chaos.workloads.spec import ConsumerSpec, ProducerSpec

ROOT = Path(__file__).resolve().parents[2]


# -- settings -------------------------------------------------------------------------------------
def test_librdkafka_renames_what_it_names_differently() -> None:
    got = resolve_settings(
        "librdkafka",
        "producer",
        {"acks": "all", "max.request.size": "2000000", "buffer.memory": "33554432", "linger.ms": "5"},
    )
    assert got.kwargs == {
        "acks": "all",
        "message.max.bytes": 2000000,
        "queue.buffering.max.kbytes": 32768,
        "linger.ms": 5,
    }
    consumer = resolve_settings("librdkafka", "consumer", {"fetch.max.wait.ms": "50", "max.poll.records": "10"})
    assert consumer.kwargs == {"fetch.wait.max.ms": 50}
    assert consumer.emulated == {"max.poll.records": 10}


@pytest.mark.parametrize(
    ("role", "key", "value", "message"),
    [
        ("producer", "partitioner.class", "com.acme.P", "cannot be honoured by librdkafka"),
        ("consumer", "default.api.timeout.ms", "60000", "cannot be honoured by librdkafka"),
        ("producer", "compression.zstd.level", "3", "librdkafka has no equivalent of this Java setting"),
        ("producer", "acks", "most", "is invalid"),
        ("producer", "lingr.ms", "5", "did you mean linger.ms?"),
        ("consumer", "partition.assignment.strategy", "com.acme.Assignor", "no librdkafka equivalent"),
    ],
)
def test_librdkafka_refuses_what_it_cannot_honour(role: str, key: str, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_settings("librdkafka", role, {key: value})


def test_librdkafka_takes_its_own_names_and_java_assignor_classes() -> None:
    got = resolve_settings("librdkafka", "producer", {"queue.buffering.max.ms": "7", "message.timeout.ms": "9000"})
    assert got.kwargs == {"queue.buffering.max.ms": 7, "message.timeout.ms": 9000}
    strategy = "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
    consumer = resolve_settings("librdkafka", "consumer", {"partition.assignment.strategy": strategy})
    assert consumer.kwargs == {"partition.assignment.strategy": "cooperative-sticky"}


def test_java_takes_every_name_of_its_own_release_and_nothing_else() -> None:
    assert {"acks", "partitioner.ignore.keys", "metadata.recovery.strategy"} <= JAVA_PRODUCER_KEYS
    assert {"group.protocol", "group.remote.assignor"} <= JAVA_CONSUMER_KEYS
    got = resolve_settings("java", "producer", {"compression.zstd.level": "3", "bootstrap.servers": "x:1"})
    assert got.kwargs == {"compression.zstd.level": "3"} and got.substituted == ["bootstrap.servers"]
    with pytest.raises(UsageError, match=r"did you mean enable\.idempotence"):
        resolve_settings("java", "producer", {"enable.idempotance": "true"})
    with pytest.raises(UsageError, match="a class of the application's own"):
        resolve_settings("java", "producer", {"interceptor.classes": "com.acme.Audit"})
    built_in = "org.apache.kafka.clients.consumer.RoundRobinAssignor"
    assert resolve_settings("java", "consumer", {"partition.assignment.strategy": built_in}).kwargs


def test_an_unknown_client_is_named_with_the_ones_there_are() -> None:
    with pytest.raises(UsageError, match="unknown client 'rdkafka': use one of kafka-python, librdkafka, java"):
        check_client("rdkafka")
    with pytest.raises(UsageError, match="unknown client"):
        ProducerSpec(id="p0", topic="t", bootstrap_servers="b", run_id="r", run_dir="d", client="go")
    assert ConsumerSpec(id="c0", topic="t", bootstrap_servers="b", run_id="r", run_dir="d", group="g", client="java")


# -- experiment files and the command line ----------------------------------------------------------
def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(body)
    return path


def test_a_file_names_its_clients_and_client_settings_apply_to_one_client(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\n"
        "producer:\n  client: librdkafka\n  settings: {acks: all}\n"
        "  client_settings: {librdkafka: {linger.ms: 7}, kafka-python: {enable.idempotence: false}}\n"
        "consumer: {client: java}\n",
    )
    exp = load_experiment(path)
    assert (exp.producer.client, exp.consumer and exp.consumer.client) == ("librdkafka", "java")
    assert exp.producer.settings == {"acks": "all", "linger.ms": 7}
    assert exp.client == "librdkafka+java"
    on_python = load_experiment(path, "kafka-python")
    assert on_python.producer.settings == {"acks": "all", "enable.idempotence": False}
    assert on_python.consumer is not None and on_python.consumer.client == "kafka-python"


def test_a_setting_one_client_cannot_honour_names_the_line_for_that_client(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nproducer:\n  settings:\n    partitioner.class: com.acme.P\n")
    with pytest.raises(ExperimentFileError, match=r"x.yaml:4: producer.settings.partitioner.class: .*librdkafka"):
        load_experiment(path, "librdkafka")
    with pytest.raises(ExperimentFileError, match=r"x\.yaml:2: producer\.client"):
        load_experiment(_write(tmp_path, "name: x\nproducer: {client: go}\n"))


def test_client_all_runs_each_experiment_once_per_client(tmp_path: Path) -> None:
    _write(tmp_path, "name: x\nproducer: {rate: 10, count: 10}\n")
    labels = [item.label for item in load_suite([tmp_path], "all")]
    assert labels == [f"x.{c}" for c in CLIENTS]
    assert [item.label for item in load_suite([tmp_path], "java")] == ["x"]
    with pytest.raises(UsageError, match="unknown client 'go': use one of kafka-python, librdkafka, java, or all"):
        load_suite([tmp_path], "go")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_run_with_an_unknown_client_exits_2() -> None:
    proc = _cli("run", str(ROOT / "experiments"), "--client", "go")
    assert proc.returncode == 2 and "unknown client 'go'" in proc.stderr and "Traceback" not in proc.stderr


def test_run_with_a_setting_the_client_cannot_honour_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nproducer:\n  settings:\n    interceptor.classes: com.acme.Audit\n")
    for client, why in (("librdkafka", "cannot be honoured by librdkafka"), ("java", "a class of the application")):
        proc = _cli("run", str(path), "--client", client, "--reports", str(tmp_path / "r"))
        assert proc.returncode == 2, proc.stderr
        assert "x.yaml:4: producer.settings.interceptor.classes: producer setting interceptor.classes" in proc.stderr
        assert why in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_validate_with_an_unknown_client_exits_2(tmp_path: Path) -> None:
    (tmp_path / "p.properties").write_text("acks=all\n")
    (tmp_path / "c.properties").write_text("enable.auto.commit=false\n")
    proc = _cli(
        "validate",
        "--producer-config",
        str(tmp_path / "p.properties"),
        "--consumer-config",
        str(tmp_path / "c.properties"),
        "--client",
        "go",
    )
    assert proc.returncode == 2 and "'go' is not one of" in proc.stderr


def test_a_java_run_without_a_jdk_stops_before_anything_starts_with_exit_3(tmp_path: Path) -> None:
    # No java on PATH and no JAVA_HOME: the run stops before the first cluster (the unit tier has no
    # Docker engine either, so anything that got further would fail differently).
    bare_path = str(Path(sys.executable).parent)
    env = {"PATH": bare_path, "JAVA_HOME": str(tmp_path / "no-jdk")}
    proc = _cli(
        "run", str(ROOT / "experiments" / "p2-sync-producer-kill.yaml"), "--client", "java",
        "--reports", str(tmp_path / "r"), env=env,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "the java client runs Apache Kafka's own client in a JVM" in proc.stderr
    assert "apt-get install default-jdk-headless" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.usefixtures("jdk")  # validate reads the release's definitions in a JVM
def test_validate_names_its_client_in_every_report(tmp_path: Path) -> None:
    from chaos.validate import validate_files

    (tmp_path / "p.properties").write_text("acks=all\nqueue.buffering.max.ms=5\n")
    (tmp_path / "c.properties").write_text("enable.auto.commit=false\n")
    files = {"producer": tmp_path / "p.properties", "consumer": tmp_path / "c.properties"}
    report, problems = validate_files(files, tmp_path / "out", None, ["leader_kill"], client="librdkafka")
    assert not problems
    assert report.as_dict()["client"] == "librdkafka"
    assert "client: librdkafka" in (tmp_path / "out" / "validate.md").read_text()
    assert 'name="client" value="librdkafka"' in (tmp_path / "out" / "junit.xml").read_text()
    assert "librdkafka" in (tmp_path / "out" / "report.html").read_text()
    # librdkafka's own name is known to it; the Java client has no such key
    assert not [f for f in report.cfg.findings if f.setting == "queue.buffering.max.ms"]
    java, _ = validate_files(files, tmp_path / "java", None, ["leader_kill"])
    assert java.cfg.client == "java"
    assert [f.severity for f in java.cfg.findings if f.setting == "queue.buffering.max.ms"] == ["config"]


# -- reports ------------------------------------------------------------------------------------------
def _run(tmp_path: Path, name: str, client: str, broker_loss: int) -> RunReport:
    loss = Loss(producer=0, broker=broker_loss, consumer=0)
    verdict = Verdict(
        run_id="r", experiment=name, passed=True, conclusive=True, counts=Counts(sent=9), loss=loss, anomalies={}
    )
    meta = {"experiment": name, "client": client, "claim": "B2"}
    return RunReport(tmp_path / f"{name}.{client}", name, meta, verdict, None, [])


def test_the_suite_report_puts_clients_side_by_side(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "b2", c, n) for c, n in (("kafka-python", 3), ("librdkafka", 5), ("java", 7))]
    table = side_by_side(runs)
    assert "| claim | experiment | kafka-python | librdkafka | java |" in table
    assert "| B2 | b2 | " in table and "0/3/0" in table and "0/5/0" in table and "0/7/0" in table
    assert side_by_side(runs[:1]) == ""
    # three clients are three rows of the repetition rates, not three repetitions of one
    assert sorted(occurrence_rates(runs)) == ["b2", "b2.java", "b2.librdkafka"]
    assert "How often each stage" not in suite_markdown(
        tmp_path, runs, SuiteFile(suite_dir="s", seconds=0, interrupted=False, exit_code=0, runs=[], rates={})
    )
    line = settings_line({"producer": {"mode": "sync", "client": "java"}, "consumer": {"client": "librdkafka"}})
    assert "producer sync on java" in line and "on librdkafka" in line


# -- the librdkafka adapter's futures -------------------------------------------------------------
class _Msg:
    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 41


class _Err:
    def name(self) -> str:
        return "_MSG_TIMED_OUT"

    def str(self) -> str:
        return "Local: Message timed out"


def test_a_delivery_runs_callbacks_added_before_and_after_it() -> None:
    lock = threading.Lock()
    seen: list[Any] = []
    future = DeliveryFuture(lock)
    future.add_callback(lambda md: seen.append(("before", md)))
    future.add_errback(lambda md: seen.append(("never", md)))
    future.deliver(None, _Msg())  # type: ignore[arg-type]
    future.add_callback(lambda md: seen.append(("after", md)))
    assert seen == [("before", Delivered("t", 2, 41)), ("after", Delivered("t", 2, 41))]
    assert future.get(0) == Delivered("t", 2, 41)


def test_a_failed_delivery_raises_an_error_named_after_librdkafka_s() -> None:
    future = DeliveryFuture(threading.Lock())
    errors: list[BaseException] = []
    future.add_errback(errors.append)
    threading.Timer(0.05, future.deliver, (_Err(), _Msg())).start()
    with pytest.raises(error_type("_MSG_TIMED_OUT"), match="timed out"):
        future.get(5)
    assert type(errors[0]).__name__ == "_MSG_TIMED_OUT"
    with pytest.raises(error_type("_TIMED_OUT")):
        DeliveryFuture(threading.Lock()).get(0.01)


# -- the Java driver ------------------------------------------------------------------------------
def test_without_a_jdk_the_java_client_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "none"))
    with pytest.raises(InfrastructureError, match="`java` is not installed: install a JDK"):
        find_jdk()


def test_the_java_workload_jvm_is_light_on_shared_cores(tmp_path: Path) -> None:
    command = JavaDriver(tmp_path, tmp_path, "java").command(tmp_path / "spec.json")
    assert "-XX:TieredStopAtLevel=1" in command and "-XX:+UseSerialGC" in command
    assert command[-2:] == ["KafkaChaosDriver", str(tmp_path / "spec.json")]
