"""``kafka-chaos init``: the files it writes, the team's settings in the experiments, what it refuses.
The CI files' structure and commands are ``test_init_ci.py``'s."""

from __future__ import annotations

import json
import shutil
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chaos.cli import main
from chaos.cli.starter import DEFAULT_SETTINGS, TeamSettings, settings_block
from chaos.experiments.cluster_model import as_properties
from chaos.experiments.loading import load_experiment, load_suite
from chaos.experiments.model import Experiment
from chaos.workloads.clients import CLIENTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "settings"
PRODUCER = "experiments/producer-leader-kill.yaml"
CONSUMER = "experiments/consumer-kill.yaml"
GITHUB = ".github/workflows/kafka-chaos.yml"
GITLAB = ".gitlab-ci.yml"
STARTER = {PRODUCER, CONSUMER, GITHUB, GITLAB, "pytest.ini"}
SECRET = "hunter2"


def init(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``kafka-chaos init ARGS``: exit code, stdout, stderr."""
    try:
        main(["init", *args])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def team_repo(root: Path, producer: str = "producer-acks1", consumer: str = "consumer-auto-commit") -> list[str]:
    """A repository holding examples/settings' ``producer`` and ``consumer`` files under config/ (the
    producer's with credentials and a class of its own added); init's arguments for it."""
    (root / "config").mkdir(parents=True)
    extra = f'sasl.jaas.config=PlainLoginModule required password="{SECRET}";\nssl.key.password={SECRET}\n'
    extra += "partitioner.class=com.acme.Partitioner\ncompression.type=lz4\n"
    (root / "config" / "producer.properties").write_text((EXAMPLES / f"{producer}.properties").read_text() + extra)
    shutil.copy(EXAMPLES / f"{consumer}.properties", root / "config" / "consumer.properties")
    return [
        "--dir",
        str(root),
        "--producer-config",
        str(root / "config" / "producer.properties"),
        "--consumer-config",
        str(root / "config" / "consumer.properties"),
    ]


def settings(section: Any) -> dict[str, str]:
    return as_properties(section.settings)


def holds_the_published_schema(path: Path) -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "experiment.json").read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema, cls=jsonschema.Draft202012Validator)


def test_init_writes_exactly_the_starter_files_and_says_what_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = init(["--dir", str(tmp_path / "repo")], capsys)
    assert (code, err) == (0, "")
    repo = tmp_path / "repo"
    assert files_under(repo) == STARTER
    assert out.splitlines() == [
        *(f"wrote {repo / name}" for name in (PRODUCER, CONSUMER, GITHUB, GITLAB, "pytest.ini")),
        "producer settings: safe defaults (give --producer-config FILE for yours)",
        "consumer settings: safe defaults (give --consumer-config FILE for yours)",
        "topic settings: safe defaults (give --topic-config FILE for yours)",
        "next: `kafka-chaos images build` once, as root (it runs debootstrap), "
        f"then `kafka-chaos run {repo}/experiments/`",
    ]
    # the hint's run names the suite init wrote (the command itself parses: test_init_ci.py)
    assert [item.experiment.name for item in load_suite([repo / "experiments/"])] == [
        "consumer-kill",
        "producer-leader-kill",
    ]
    assert (repo / "pytest.ini").read_text() == (
        "# kafka-chaos: the experiment files as tests (pytest -k consumer-kill runs one).\n"
        "[pytest]\nkafka_chaos_experiments =\n    experiments/*.yaml\n"
    )


def test_the_next_command_from_the_current_directory_is_plain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = init(["--ci", "none"], capsys)
    assert code == 0 and files_under(tmp_path) == {PRODUCER, CONSUMER, "pytest.ini"}
    assert out.splitlines()[0] == f"wrote {PRODUCER}"
    assert out.splitlines()[-1].endswith("then `kafka-chaos run experiments/`")


@pytest.mark.parametrize(
    ("ci", "written"), [("github", {GITHUB}), ("gitlab", {GITLAB}), ("both", {GITHUB, GITLAB}), ("none", set())]
)
def test_ci_picks_the_workflow_files(
    ci: str, written: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(["--dir", str(tmp_path), "--ci", ci], capsys)[0] == 0
    assert files_under(tmp_path) == {PRODUCER, CONSUMER, "pytest.ini", *written}


@pytest.mark.parametrize("client", CLIENTS)
def test_the_default_experiments_load_hold_the_schema_and_say_what_they_measure(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(["--dir", str(tmp_path), "--client", client, "--ci", "none"], capsys)[0] == 0
    for name in (PRODUCER, CONSUMER):
        holds_the_published_schema(tmp_path / name)
    producer = load_experiment(tmp_path / PRODUCER)
    assert (producer.name, producer.claim, producer.producer.client, producer.producer.mode) == (
        "producer-leader-kill",
        "B3",
        client,
        "sync",
    )
    assert settings(producer.producer) == DEFAULT_SETTINGS["producer"]
    assert (producer.cluster.brokers, producer.topic.partitions, producer.topic.replication_factor) == (3, 3, 3)
    assert producer.topic.config == {"min.insync.replicas": 2}
    assert [(f.kind, f.params, f.at, f.duration) for f in producer.faults] == [
        ("broker_kill", {"target": "leader:0"}, 0.0, 14.0)
    ]
    assert producer.expect == {"broker_loss": 0, "producer_loss": 0} and producer.consumer is None

    consumer = load_experiment(tmp_path / CONSUMER)
    assert consumer.consumer is not None
    assert (consumer.name, consumer.claim, consumer.consumer.client, consumer.consumer.strategy) == (
        "consumer-kill",
        "C2",
        client,
        "after_process",
    )
    assert settings(consumer.consumer) == DEFAULT_SETTINGS["consumer"]
    assert settings(consumer.producer) == {"acks": "all"}
    assert [(f.kind, f.params) for f in consumer.faults] == [("client_kill", {"workload": "consumer-c0"})]
    assert consumer.expect == {"consumer_loss": 0, "broker_loss": 0, "duplicates_processed": ">=0"}
    text = (tmp_path / CONSUMER).read_text()
    assert "# Safe defaults: put your consumer's settings here" in text and "--consumer-config FILE --force" in text


def test_the_team_files_settings_are_in_the_experiments_and_no_credential_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = init([*team_repo(tmp_path), "--json"], capsys)
    assert (code, err) == (0, "")
    data = json.loads(out)
    owned = "the harness sets its own"
    assert data["settings"]["producer"]["source"] == "config/producer.properties"
    assert data["settings"]["producer"]["kept"] == {"acks": "1", "linger.ms": "5", "compression.type": "lz4"}
    left_out = data["settings"]["producer"]["left_out"]
    assert sorted(left_out) == [
        "bootstrap.servers",
        "key.serializer",
        "partitioner.class",
        "sasl.jaas.config",
        "ssl.key.password",
        "value.serializer",
    ]
    assert left_out["bootstrap.servers"] == owned
    assert left_out["partitioner.class"].startswith("producer setting partitioner.class names com.acme.Partitioner")
    assert data["settings"]["consumer"] == {
        "source": "config/consumer.properties",
        "kept": {"enable.auto.commit": "true", "auto.commit.interval.ms": "1000"},
        "left_out": dict.fromkeys(["bootstrap.servers", "group.id", "key.deserializer", "value.deserializer"], owned),
    }

    producer = load_experiment(tmp_path / PRODUCER)
    assert settings(producer.producer) == {"acks": "1", "linger.ms": "5", "compression.type": "lz4"}
    consumer = load_experiment(tmp_path / CONSUMER)
    assert consumer.consumer is not None and consumer.consumer.strategy == "auto"  # the file commits automatically
    assert settings(consumer.consumer) == {"enable.auto.commit": "true", "auto.commit.interval.ms": "1000"}
    text = (tmp_path / PRODUCER).read_text()
    assert "# Your producer's settings, from config/producer.properties (written by kafka-chaos init)." in text
    assert "# Left out: bootstrap.servers, key.serializer, value.serializer (the harness sets its own)." in text
    for name in files_under(tmp_path) - {"config/producer.properties"}:
        assert SECRET not in (tmp_path / name).read_text(), name


def test_the_text_output_names_what_was_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = init(team_repo(tmp_path), capsys)
    lines = out.splitlines()
    assert code == 0
    assert "producer settings: config/producer.properties" in lines
    assert "left out of the consumer settings: group.id (the harness sets its own)" in lines
    assert sum(line.startswith("left out of the producer settings: ") for line in lines) == 6
    assert lines[-2] == (
        "without --topic-config the review judges the topic by Kafka's defaults: min.insync.replicas=1 fails it"
    )


def test_one_client_file_gets_no_review_and_init_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(EXAMPLES / "producer-safe.properties", tmp_path / "p.properties")
    code, out, _ = init(["--dir", str(tmp_path), "--producer-config", str(tmp_path / "p.properties")], capsys)
    assert code == 0
    assert out.splitlines()[-2] == (
        "the workflows review the settings with validate only when init is given both client files"
    )
    assert "validate" not in (tmp_path / GITHUB).read_text() + (tmp_path / GITLAB).read_text()


def test_a_manual_commit_consumer_commits_after_processing_and_a_transactional_producer_sends_in_transactions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = team_repo(tmp_path, "producer-safe", "consumer-manual-commit")
    with (tmp_path / "config" / "producer.properties").open("a") as f:
        f.write("transactional.id=orders-1\n")
    assert init(args, capsys)[0] == 0
    consumer = load_experiment(tmp_path / CONSUMER)
    assert consumer.consumer is not None and consumer.consumer.strategy == "after_process"
    assert settings(consumer.consumer) == {"enable.auto.commit": "false", "auto.offset.reset": "earliest"}
    producer = load_experiment(tmp_path / PRODUCER)
    assert producer.producer.mode == "transactional"
    assert settings(producer.producer)["transactional.id"] == "orders-1"


@pytest.mark.parametrize("value", ["007", "True", "null", "", "a: b #c", "1_000", "0.5", "x\ny", "é😀", "[1]", "yes"])
def test_a_value_reads_back_from_the_experiment_as_the_properties_file_gave_it(value: str) -> None:
    team = TeamSettings("consumer", "c.properties", {"client.rack": value, "2": "x"})
    block = yaml.safe_load(settings_block(team))
    assert as_properties(block["settings"]) == {"client.rack": value, "2": "x"}


def test_no_settings_kept_is_an_empty_mapping_not_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.properties").write_text("bootstrap.servers=kafka:9092\n")
    assert init(["--dir", str(tmp_path), "--producer-config", str(tmp_path / "p.properties")], capsys)[0] == 0
    assert load_experiment(tmp_path / PRODUCER).producer.settings == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("acks=all\n\\u12=x\n", "{path}:2: malformed \\u escape '\\\\u12': write four hex digits, e.g. \\u00e9"),
        ("acks=all\n=5\n", "{path}:2: a value without a key ('=5'): write key=value"),
        (None, "{path}: no such file: check the path"),
    ],
    ids=["bad-escape", "no-key", "missing"],
)
def test_a_malformed_properties_file_exits_2_with_one_sentence_and_writes_nothing(
    content: str | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "consumer.properties"
    if content is not None:
        path.write_text(content)
    code, out, err = init(["--dir", str(tmp_path / "repo"), "--consumer-config", str(path)], capsys)
    assert (code, out, err) == (2, "", f"kafka-chaos: {message.format(path=path)}\n")
    assert not (tmp_path / "repo").exists()
    code, out, _ = init(["--dir", str(tmp_path / "repo"), "--consumer-config", str(path), "--json"], capsys)
    assert code == 2 and json.loads(out) == {"error": message.format(path=path), "exit_code": 2}


def test_existing_files_are_refused_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "experiments").mkdir()
    (tmp_path / CONSUMER).write_text("mine")
    code, out, err = init(["--dir", str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    assert err == f"kafka-chaos: {tmp_path / CONSUMER} already exists: pass --force to overwrite it\n"
    assert files_under(tmp_path) == {CONSUMER} and (tmp_path / CONSUMER).read_text() == "mine"

    (tmp_path / CONSUMER).unlink()
    assert init(["--dir", str(tmp_path)], capsys)[0] == 0
    (tmp_path / CONSUMER).write_text("mine")
    code, _, err = init(["--dir", str(tmp_path)], capsys)
    assert (code, err) == (
        2,
        f"kafka-chaos: {tmp_path / PRODUCER} and 3 more files init writes already exist: "
        "pass --force to overwrite them\n",
    )
    code, out, _ = init(["--dir", str(tmp_path), "--force"], capsys)
    assert code == 0 and Experiment.model_validate(yaml.safe_load((tmp_path / CONSUMER).read_text()))
    assert f"{tmp_path / 'pytest.ini'} sets kafka_chaos_experiments already" in out.splitlines()
    assert f"wrote {tmp_path / 'pytest.ini'}" not in out  # a pytest configuration is never overwritten


def test_a_file_given_as_the_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("")
    code, _, err = init(["--dir", str(tmp_path / "f")], capsys)
    assert (code, err) == (
        2,
        f"kafka-chaos: {tmp_path / 'f'} is not a directory: give --dir a directory (it is created if missing)\n",
    )


def test_the_team_topic_file_shapes_the_producer_experiments_topic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = tmp_path / "topic.properties"
    topic.write_text("partitions=²\nreplication.factor=5\nretention.ms=600000\nmin.insync.replicas=3\n")
    assert init(["--dir", str(tmp_path), "--topic-config", str(topic), "--ci", "none"], capsys)[0] == 0
    producer = load_experiment(tmp_path / PRODUCER)
    assert (producer.topic.partitions, producer.topic.replication_factor) == (3, 3)  # the cluster has three brokers
    assert as_properties(producer.topic.config) == {"retention.ms": "600000", "min.insync.replicas": "3"}
    text = (tmp_path / PRODUCER).read_text()
    assert "# Left out: partitions ('²' is not a whole number of at least 1)." in text
    assert "# Your topic has 5 replicas; the experiment's cluster has 3 brokers." in text
    holds_the_published_schema(tmp_path / PRODUCER)

    (tmp_path / PRODUCER).unlink()
    shutil.copy(EXAMPLES / "topic-min-isr-2.properties", topic)
    assert init(["--dir", str(tmp_path), "--topic-config", str(topic), "--ci", "none", "--force"], capsys)[0] == 0
    producer = load_experiment(tmp_path / PRODUCER)
    assert (producer.topic.partitions, producer.topic.replication_factor) == (3, 3)
    assert producer.topic.config == {"min.insync.replicas": 2}


def test_the_templates_are_package_data_so_an_installed_wheel_has_them() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["chaos"]
    templates = [p.relative_to(ROOT / "chaos").as_posix() for p in (ROOT / "chaos/cli/templates").iterdir()]
    assert len(templates) == 6
    assert [t for t in templates if not any(fnmatch(t, glob) for glob in globs)] == []


def test_a_topic_file_with_credentials_leaves_them_out_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = tmp_path / "kafka.properties"
    topic.write_text(
        "bootstrap.servers=prod-kafka:9093\nsecurity.protocol=SASL_SSL\n"
        'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required password="Hunter2Secret";\n'
        "ssl.truststore.password=TrustPw123\nlistener.name.x.scram.password=Pw9\nmin.insync.replicas=2\n"
    )
    assert init(["--dir", str(tmp_path / "repo"), "--topic-config", str(topic), "--ci", "none"], capsys)[0] == 0
    written = "".join(p.read_text() for p in (tmp_path / "repo").rglob("*") if p.is_file())
    for secret in ("Hunter2Secret", "TrustPw123", "Pw9", "prod-kafka"):
        assert secret not in written
    experiment = load_experiment(tmp_path / "repo" / PRODUCER)
    assert experiment.topic.config == {"min.insync.replicas": 2}
    assert "Left out: sasl.jaas.config" in (tmp_path / "repo" / PRODUCER).read_text()


@pytest.mark.parametrize(
    ("make", "dir_arg", "message"),
    [
        (lambda root: (root / "afile").write_text(""), "afile/sub", "afile/sub is not a directory: give --dir"),
        (lambda root: (root / "d" / "pytest.ini").mkdir(parents=True), "d", "pytest.ini is a directory, where init"),
    ],
    ids=["under-a-file", "a-directory-where-a-file-goes"],
)
def test_a_place_init_cannot_write_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, dir_arg: str, message: str
) -> None:
    make(tmp_path)
    code, _, err = init(["--dir", str(tmp_path / dir_arg), "--force"], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_an_existing_gitlab_file_is_named_with_the_options_that_keep_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text("stages: [test]\nunit:\n  script: [make test]\n")
    code, _, err = init(["--dir", str(tmp_path)], capsys)
    assert code == 2 and "(or --ci github or --ci none to keep your .gitlab-ci.yml)" in err
    assert init(["--dir", str(tmp_path), "--ci", "github"], capsys)[0] == 0
    assert (tmp_path / ".gitlab-ci.yml").read_text().startswith("stages: [test]")


def test_settings_every_client_refuses_together_are_refused_by_init_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    producer = tmp_path / "producer.properties"
    producer.write_text("acks=1\nenable.idempotence=true\n")
    code, _, err = init(["--dir", str(tmp_path / "repo"), "--producer-config", str(producer)], capsys)
    assert code == 2 and err == (
        f"kafka-chaos: {producer}: producer settings acks=1 and enable.idempotence=true are refused together by "
        "every client (an idempotent producer needs acks=all): set acks=all, or enable.idempotence=false\n"
    )
    assert not (tmp_path / "repo" / PRODUCER).exists()


def test_foreign_yaml_already_in_experiments_is_named_with_what_it_would_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "ml-baseline.yaml").write_text("learning_rate: 0.01\n")
    code, out, _ = init(["--dir", str(tmp_path), "--ci", "none"], capsys)
    assert code == 0
    assert (
        f"{tmp_path / 'experiments' / 'ml-baseline.yaml'} is not an experiment file: pytest (with "
        "kafka_chaos_experiments) and `kafka-chaos run experiments/` would stop on it; move it out of experiments/"
    ) in out.splitlines()
