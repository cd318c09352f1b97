"""Experiment files: every malformed file is refused with file, line and field, exit code 2, and
nothing started (Docker points nowhere here: reaching it would exit 3 instead)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.experiments.loading import load_experiment, load_suite
from chaos.experiments.model import ExperimentFileError
from chaos.faults.targets import expand_target

GOOD = """\
name: good
producer:
  mode: async
  rate: 100
  settings: {acks: all}
consumer:
  strategy: after_process
faults:
  - {kind: broker_kill, target: leader, at: 1, duration: 2}
expect:
  broker_loss: 0
"""

#: Aliases that expand tenfold per level: 100,000 values from 6 lines.
LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([inner] * 10)}]\n"
    for name, inner in (("a", "x"), ("b", "*a"), ("c", "*b"), ("d", "*c"), ("e", "*d"))
)

#: (file text, line the error must name, text the message must contain)
MALFORMED: list[tuple[str, str, int, str]] = [
    ("unknown-top-key", "name: x\nfaultz: []\n", 2, "faultz: unknown key"),
    ("unknown-nested-key", "name: x\nproducer:\n  mode: async\n  ratee: 5\n", 4, "producer.ratee: unknown key"),
    ("wrong-type", "name: x\nproducer:\n  rate: fast\n", 3, "producer.rate"),
    ("negative-rate", "name: x\nproducer:\n  rate: -5\n", 3, "greater than 0"),
    ("bad-mode", "name: x\nproducer:\n  mode: fire_forget\n", 3, "producer.mode: must be"),
    ("misspelled-setting", "name: x\nproducer:\n  settings:\n    ackss: all\n", 4, "did you mean acks"),
    ("bad-setting-value", "name: x\nproducer:\n  settings:\n    acks: 2\n", 4, "producer.settings.acks"),
    ("unknown-fault-kind", "name: x\nfaults:\n  - kind: broker_kil\n    at: 1\n", 3, "unknown fault kind 'broker_kil'"),
    ("unknown-fault-param", "name: x\nfaults:\n  - {kind: broker_kill, targt: leader}\n", 3, "no parameter 'targt'"),
    ("bad-selector", "name: x\nfaults:\n  - {kind: broker_kill, target: leaderr}\n", 3, "not a selector"),
    (
        "unknown-workload",
        "name: x\nfaults:\n  - {kind: client_kill, workload: consumer-c5}\n",
        3,
        "no workload 'consumer-c5'",
    ),
    ("unknown-metric", "name: x\nexpect:\n  brokr_loss: 0\n", 3, "unknown expectation 'brokr_loss'"),
    ("bad-condition", "name: x\nexpect:\n  broker_loss: '>> 0'\n", 3, "not a number or a comparison"),
    (
        "consumer-metric-without-consumer",
        "name: x\nexpect:\n  consumer_loss: 0\n",
        3,
        "no consumer or application section",
    ),
    (
        "rebalance-metric-without-consumer",
        "name: x\nexpect:\n  assignment_changes: '>0'\n",
        3,
        "assignment changes, but the",
    ),
    ("rf-above-brokers", "name: x\ntopic:\n  replication_factor: 4\n", 3, "the cluster has 3"),
    ("yaml-syntax", "name: x\nproducer: [rate: 1\n", 3, "not valid YAML"),
    ("not-a-mapping", "- name: x\n", 1, "must be a YAML mapping"),
    ("duplicate-key", "name: x\nproducer:\n  rate: 1\n  rate: 2\n", 4, "duplicate key (first at line 3)"),
    ("missing-name", "producer:\n  rate: 1\n", 1, "name: is required"),
    ("bad-name", "name: My Experiment\n", 1, "name: must be lower-case letters"),
    ("harness-owned-broker-key", "name: x\ncluster:\n  broker_config:\n    node.id: 7\n", 2, "node.id"),
    ("zero-members", "name: x\nconsumer:\n  members: 0\n", 3, "consumer.members"),
    ("empty-file", "", 1, "must be a YAML mapping"),
    ("negative-at", "name: x\nfaults:\n  - {kind: broker_kill, at: -1}\n", 3, "faults.0.at"),
    (
        "random-faults-do-not-fit",
        "name: x\nrandom_faults: {count: 5, min_duration: 5}\nphases: {fault_window: 10}\n",
        3,
        "do not fit",
    ),
    ("toxic-bad-type", "name: x\nfaults:\n  - {kind: toxic, type: jitter}\n", 3, "toxic type 'jitter'"),
    ("bad-kafka-version", "name: x\ncluster: {kafka_version: 'four'}\n", 2, "cluster"),
    # Hostile YAML: refused with a sentence, never a RecursionError or a hang.
    ("recursive-alias-mapping", "name: x\nproducer: &a\n  settings: *a\n", 3, "recursive alias"),
    ("recursive-alias-list", "name: x\ntags: &t [a, *t]\n", 2, "recursive alias"),
    ("deep-nesting", "name: x\nproducer: " + "[" * 100 + "]" * 100 + "\n", 2, "nested deeper than 32 levels"),
    ("nesting-past-the-parser", "name: x\nproducer: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested too deeply"),
    ("billion-laughs", "name: x\n" + LAUGHS, 2, "more than 20000 values once aliases are expanded"),
    ("python-tag", "name: !!python/object:os.system x\n", 1, "not valid YAML"),
    ("unhashable-key", "name: x\n? [a, b]\n: 1\n", 2, "not valid YAML"),
    ("list-where-settings-go", "name: x\nproducer:\n  settings: [acks, all]\n", 3, "producer.settings"),
    ("null-section", "name: x\nproducer:\n", 2, "producer"),
    # The direct client path bypasses toxiproxy: a fault acting there would reach no client.
    ("unknown-client-path", "name: x\nclient_path: sideways\n", 2, "client_path: must be 'proxy' or 'direct'"),
    (
        "direct-path-toxic",
        "name: x\nclient_path: direct\nfaults:\n  - {kind: toxic, type: latency}\n",
        4,
        "faults.0.kind: toxic acts on the proxied client path, which client_path: direct bypasses",
    ),
    (
        "direct-path-proxy-down",
        "name: x\nclient_path: direct\nfaults:\n  - kind: broker_kill\n    at: 1\n  - kind: proxy_down\n    at: 2\n",
        6,
        "faults.1.kind: proxy_down acts on the proxied client path",
    ),
    (
        "direct-path-random-kind",
        "name: x\nclient_path: direct\nrandom_faults:\n  count: 1\n  kinds:\n    - {kind: broker_kill}\n"
        "    - {kind: toxic, type: latency}\n",
        7,
        "random_faults.kinds.1.kind: toxic acts on the proxied client path",
    ),
    (
        "direct-path-default-random-kinds",
        "name: x\nclient_path: direct\nrandom_faults: {count: 2}\n",
        3,
        "random_faults: the default kinds include toxic, which acts on the proxied client path",
    ),
]


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


@pytest.mark.parametrize(("case", "text", "line", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_exits_2_naming_file_line_and_field(
    case: str,
    text: str,
    line: int,
    fragment: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    assert_refused(path, f"{path}:{line}:", fragment, tmp_path, capsys)


def assert_refused(path: Path, where: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kafka-chaos run PATH`` exits 2 with one sentence starting at ``where``, nothing started."""
    code = run_cli(["run", str(path), "--reports", str(tmp_path / "reports"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith(f"kafka-chaos: {where}"), err
    assert fragment in err, err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "reports").exists()  # nothing ran, not even a run directory


def test_the_direct_path_from_the_command_line_refuses_a_proxy_fault_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "toxic.yaml"
    path.write_text(GOOD.replace("faults:\n", "faults:\n  - {kind: toxic, type: timeout, at: 1, duration: 2}\n"))
    code = run_cli(["run", str(path), "--client-path", "direct", "--reports", str(tmp_path / "reports"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"kafka-chaos: {path}:9: faults.0.kind: toxic acts on the proxied client path"), err
    assert "--client-path direct bypasses" in err
    assert not (tmp_path / "reports").exists()
    assert run_cli(["run", str(path), "--client-path", "sideways"]) == 2
    assert "'sideways' is not one of 'proxy', 'direct'" in capsys.readouterr().err


def test_a_good_file_loads_and_fills_in_the_topic(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    exp = load_experiment(path)
    assert exp.topic_name == "good"
    assert exp.fault_window() == 3
    assert exp.workload_names == ["producer-p0", "consumer-c0"]
    assert [e.name for e in exp.expectations()] == ["broker_loss == 0"]
    assert expand_target("leader:2", "t") == "leader:t:2"
    assert expand_target("isr", "t") == "isr:t:0"
    assert expand_target("leader:other:1", "t") == "leader:other:1"


def test_a_file_may_name_other_images(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    images = "cluster:\n  kafka_image: apache/kafka:4.1.0\n  toxiproxy_image: ghcr.io/shopify/toxiproxy\n"
    path.write_text(GOOD + images)
    spec = load_experiment(path).cluster.spec()
    assert (spec.kafka_image, spec.toxiproxy_image) == ("apache/kafka:4.1.0", "ghcr.io/shopify/toxiproxy")


def test_a_suite_with_one_bad_file_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("rate: 100", "rate: 0"))
    with pytest.raises(ExperimentFileError, match=r"b\.yaml:4: producer\.rate"):
        load_suite([tmp_path])
    assert run_cli(["run", str(tmp_path), "--reports", str(tmp_path / "r"), "-q"]) == 2
    assert not (tmp_path / "r").exists()


def test_two_experiments_with_one_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(ExperimentFileError, match="also the name of"):
        load_suite([tmp_path])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "does/not/exist.yaml"], "no such file or directory"),
        (["run", "EMPTYDIR"], "no *.yaml experiment files"),
        (["run", "GOOD", "-k", "nomatch"], "no experiment name contains 'nomatch'"),
        (["run", "GOOD", "--repeat", "0"], "--repeat"),
        (["report", "does/not/exist"], "is not a directory"),
        (["report", "EMPTYDIR"], "is not a run directory"),
    ],
)
def test_bad_command_lines_exit_2(
    args: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    args = [str(tmp_path / "empty") if a == "EMPTYDIR" else str(good) if a == "GOOD" else a for a in args]
    assert run_cli([*args, "--reports", str(tmp_path / "r")] if args[0] == "run" else args) == 2
    assert fragment in capsys.readouterr().err


def test_every_shipped_experiment_loads() -> None:
    root = Path(__file__).resolve().parents[2] / "experiments"
    loaded = load_suite([root])
    claims = {item.experiment.claim for item in loaded}
    assert claims >= {"B1", "B2", "B3", "B4", "B5", "P1", "P2", "P3", "P4", "P5", "C1", "C2", "C3"}
    for item in loaded:
        assert item.experiment.expect, f"{item.path} states no expected outcome"
        assert item.experiment.expected.strip(), f"{item.path} does not say what it expects and why"


def test_every_shipped_experiment_survives_its_json_round_trip() -> None:
    # A worker on another engine gets its experiment as JSON: what it validates must be what was loaded.
    from chaos.experiments.model import Experiment

    for item in load_suite([Path(__file__).resolve().parents[2] / "experiments"]):
        again = Experiment.model_validate(item.experiment.model_dump(mode="json"))
        assert again == item.experiment, item.path


def test_list_prints_every_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2] / "experiments"
    main_rc = 0
    try:
        main(["list", str(root)])
    except SystemExit as e:
        main_rc = int(e.code or 0)
    out = capsys.readouterr().out
    assert main_rc == 0
    assert "c1-auto-commit-batched-consumer-kill" in out and "consumer_loss >0" in out


@pytest.mark.parametrize(
    ("case", "content", "fragment"),
    [
        ("not-utf8", b"name: x\n\xff\xfe\n", "make it a readable UTF-8 YAML file"),
        ("over-a-mebibyte", b"name: x\n" + b"# padding\n" * 120_000, "larger than 1 MiB"),
        ("nul-bytes", b"name: x\n\x00\x00\n", "not valid YAML"),
    ],
)
def test_unreadable_files_exit_2_with_one_sentence(
    case: str, content: bytes, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content)
    assert_refused(path, str(path), fragment, tmp_path, capsys)


def test_malformed_file_through_the_console_script_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("name: x\nproducer:\n  rate: -1\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{path}:3: producer.rate" in proc.stderr
