"""Releases side by side: which releases ``--kafka-version`` names, which rows apply to them, what
each run records of its releases (no Docker: fake definitions, fake metadata)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from chaos.errors import InfrastructureError, UsageError
from chaos.experiments.applicable import fitted, not_applicable
from chaos.experiments.loading import load_suite
from chaos.experiments.model import Experiment
from chaos.experiments.release_facts import release_facts
from chaos.experiments.release_model import KnownBugModel
from chaos.images.releases import listed_releases, resolve_versions
from chaos.results import EXIT_OK, RunResult, SuiteResult

METADATA = (
    "<metadata><versioning><versions>"
    + "".join(
        f"<version>{v}</version>"
        for v in ("3.8.1", "3.9.0", "3.9.1", "3.9.2", "4.0.0", "4.0.1", "4.0.2", "4.1.0-rc0", "4.4.0")
    )
    + "</versions></versioning></metadata>"
)
LISTED = ["3.8.1", "3.9.0", "3.9.1", "3.9.2", "4.0.0", "4.0.1", "4.0.2", "4.4.0"]


def test_a_list_keeps_its_order_and_a_line_is_its_latest_patch() -> None:
    assert resolve_versions("3.9.1,4.0.x,4.4.0", lambda: LISTED) == ["3.9.1", "4.0.2", "4.4.0"]


def test_all_is_the_latest_patch_of_every_line_from_3_9_on() -> None:
    assert resolve_versions("all", lambda: LISTED) == ["3.9.2", "4.0.2", "4.4.0"]


def test_maven_central_is_asked_only_for_a_line_or_all() -> None:
    def refuse() -> list[str]:
        raise AssertionError("asked Maven Central for exact releases")

    assert resolve_versions("4.4.0,3.9.1,4.4.0", refuse) == ["4.4.0", "3.9.1"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3.9.1,,4.4.0", "has an empty part"),
        ("all,4.4.0", "give `all` alone"),
        ("4.9.x", "lists no Kafka 4.9 release"),
        ("4.4", "is not a release number"),
        ("2.8.0", "too old"),
    ],
)
def test_a_bad_release_list_is_one_sentence(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        resolve_versions(text, lambda: LISTED)


def test_the_list_of_releases_is_kept_a_day_and_used_offline(tmp_path: Path) -> None:
    calls: list[int] = []

    def fetch() -> str:
        calls.append(1)
        return METADATA

    assert listed_releases(tmp_path, fetch) == LISTED
    assert listed_releases(tmp_path, fetch) == LISTED and len(calls) == 1  # kept

    def offline() -> str:
        raise OSError("no network")

    old = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / "kafka-releases.xml", (old, old))
    assert listed_releases(tmp_path, offline) == LISTED  # stale, but better than nothing


def test_offline_with_nothing_kept_the_jars_in_the_cache_answer(tmp_path: Path) -> None:
    def offline() -> str:
        raise OSError("no network")

    with pytest.raises(UsageError, match="could not ask Maven Central"):
        listed_releases(tmp_path, offline)
    for version in ("4.0.1", "3.9.1"):
        (tmp_path / f"kafka-{version}" / "libs").mkdir(parents=True)
        (tmp_path / f"kafka-{version}" / "libs" / f"kafka-clients-{version}.jar").write_bytes(b"")
    assert listed_releases(tmp_path, offline) == ["3.9.1", "4.0.1"]


BUG = KnownBugModel(id="KAFKA-1", title="t", side="broker", fixed_in=["3.9.1", "4.0.1"], introduced="3.8.0")


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("3.7.2", False),
        ("3.8.1", True),
        ("3.9.0", True),
        ("3.9.1", False),
        ("4.0.0", True),
        ("4.0.1", False),
        ("4.1.0", False),
        ("4.4.0", False),
    ],
)
def test_a_known_bug_affects_the_releases_before_its_line_s_fix(version: str, affected: bool) -> None:
    assert BUG.affects(version) is affected


EXPERIMENT = """name: r1
producer: {client: java, settings: {acks: all}}
consumer: {client: java, settings: {isolation.level: read_committed}}
topic: {config: {min.insync.replicas: 2}}
cluster: {broker_config: {share.coordinator.state.topic.replication.factor: 1}}
"""


def defined(release: str) -> Mapping[str, Mapping[str, str | None]]:
    """Two fake releases: 3.9.1 knows no share coordinator and no client metrics push."""
    broker = {"min.insync.replicas": "1", "group.coordinator.rebalance.protocols": "classic"}
    consumer = {"isolation.level": "read_uncommitted"}
    if release != "3.9.1":
        broker |= {"share.coordinator.state.topic.replication.factor": "3"}
        broker["group.coordinator.rebalance.protocols"] = "classic,consumer"
        consumer |= {"enable.metrics.push": "true"}
    return {
        "producer": {"acks": "all", "linger.ms": "5" if release >= "4.0.0" else "0"},
        "consumer": consumer,
        "topic": {"min.insync.replicas": "1"},
        "broker": broker,
    }


def loaded(tmp_path: Path, text: str = EXPERIMENT, releases: tuple[str, ...] = ("3.9.1", "4.4.0")) -> list[Experiment]:
    (tmp_path / "r1.yaml").write_text(text)
    return [item.experiment for item in load_suite([tmp_path / "r1.yaml"], releases=releases)]


def test_each_experiment_runs_once_per_release_labelled_by_it(tmp_path: Path) -> None:
    (tmp_path / "r1.yaml").write_text(EXPERIMENT)
    items = load_suite([tmp_path / "r1.yaml"], client="all", releases=("3.9.1", "4.4.0"))
    assert [item.label for item in items][:4] == [
        "r1.kafka-python@3.9.1",
        "r1.kafka-python@4.4.0",
        "r1.librdkafka@3.9.1",
        "r1.librdkafka@4.4.0",
    ]
    assert [item.experiment.cluster.kafka_version for item in items][:2] == ["3.9.1", "4.4.0"]
    one = load_suite([tmp_path / "r1.yaml"], releases=("4.0.2",), client_versions=("3.9.1",))
    assert [(i.label, i.experiment.cluster.kafka_version, i.experiment.java_release) for i in one] == [
        ("r1", "4.0.2", "3.9.1")
    ]
    pair = load_suite([tmp_path / "r1.yaml"], client_versions=("3.9.1", "4.0.2"))
    assert [(i.label, i.experiment.cluster.kafka_version, i.experiment.java_release) for i in pair] == [
        ("r1@clients-3.9.1", "4.4.0", "3.9.1"),
        ("r1@clients-4.0.2", "4.4.0", "4.0.2"),
    ]


def test_a_broker_key_the_release_lacks_makes_the_row_not_applicable_there(tmp_path: Path) -> None:
    old, new = loaded(tmp_path)
    assert not_applicable(old, defined) == (
        "not applicable on Kafka 3.9.1: its broker settings have no "
        "share.coordinator.state.topic.replication.factor, which 4.4.0 has"
    )
    assert not_applicable(new, defined) is None


def test_a_client_key_the_java_client_lacks_is_judged_by_the_client_s_release(tmp_path: Path) -> None:
    text = EXPERIMENT.replace("cluster: {broker_config: {share.coordinator.state.topic.replication.factor: 1}}\n", "")
    text = text.replace("isolation.level: read_committed", "enable.metrics.push: false")
    new_cluster_old_client = loaded(tmp_path, text + "client_version: 3.9.1\n", ("4.4.0",))[0]
    assert not_applicable(new_cluster_old_client, defined) == (
        "not applicable with kafka-clients 3.9.1: its consumer has no setting enable.metrics.push, which 4.4.0 has"
    )
    on_4_4 = loaded(tmp_path, text, ("4.4.0",))[0]
    assert not_applicable(on_4_4, defined) is None


def test_needs_says_what_the_newer_release_brings(tmp_path: Path) -> None:
    text = "name: r1\nneeds: {kafka: 4.1.0, why: eligible leader replicas}\n"
    old, new = loaded(tmp_path, text, ("4.0.2", "4.1.0"))
    assert not_applicable(old) == "not applicable on Kafka 4.0.2: needs 4.1.0 or newer (eligible leader replicas)"
    assert not_applicable(new) is None


def test_a_client_needs_does_not_name_makes_the_row_not_applicable_on_it(tmp_path: Path) -> None:
    text = "name: r1\nneeds: {clients: [java, librdkafka], why: the consumer group protocol}\n"
    text += "consumer: {strategy: auto}\n"
    (tmp_path / "r1.yaml").write_text(text)
    items = load_suite([tmp_path / "r1.yaml"], client="all")
    reasons = {item.label: not_applicable(item.experiment) for item in items}
    assert reasons == {
        "r1.kafka-python": "not applicable on kafka-python: needs java or librdkafka (the consumer group protocol)",
        "r1.librdkafka": None,
        "r1.java": None,
    }


def test_a_row_that_does_not_apply_is_neither_a_failure_nor_an_error(tmp_path: Path) -> None:
    result = RunResult("r1", None, tmp_path, "r", not_applicable="not applicable on Kafka 3.9.1: needs 4.0.0")
    assert result.status == "not_applicable" and result.exit_code == EXIT_OK
    assert result.outcome().not_applicable == "not applicable on Kafka 3.9.1: needs 4.0.0"
    assert SuiteResult(tmp_path, [result], 0.0).exit_code == EXIT_OK


def test_the_facts_name_features_protocols_and_the_defaults_left_unset() -> None:
    described = {
        "metadata.version": {"supported": (1, 25), "finalized": (25, 25)},
        "group.version": {"supported": (0, 1), "finalized": (1, 1)},
        "eligible.leader.replicas.version": {"supported": (0, 1)},
    }
    facts = release_facts(
        features=lambda: described,
        defaults=defined,
        cluster_release="4.0.2",
        java_kinds={"producer": "3.9.1"},
        set_keys={"producer": {"acks"}, "broker": {"min.insync.replicas"}},
    )
    assert facts == {
        "features": {"eligible.leader.replicas.version": 0, "group.version": 1, "metadata.version": 25},
        "group_protocols": ["classic", "consumer"],
        "defaults": [
            {"kind": "producer", "key": "linger.ms", "value": "0", "release": "3.9.1"},
            {"kind": "broker", "key": "group.coordinator.rebalance.protocols", "value": "classic,consumer"}
            | {"release": "4.0.2"},
        ],
    }
    json.dumps(facts)  # run.json holds it


def test_a_key_no_release_defines_is_for_kafka_to_judge_not_a_release_gap(tmp_path: Path) -> None:
    # listener and authorizer keys are outside KafkaConfig's definitions in every release
    text = "name: r1\ncluster: {broker_config: {super.users: 'User:admin', listener.name.client.x: y}}\n"
    old, new = loaded(tmp_path, text)
    assert not_applicable(old, defined) is None and not_applicable(new, defined) is None
    # a key an older release has and the newest has not (removed in 4.0) runs everywhere: the upgrade shows
    removed = "name: r1\ncluster: {broker_config: {gone.in.four: 1}}\n"

    def with_removed(release: str) -> Mapping[str, Mapping[str, str | None]]:
        found = {**defined(release)}
        if release == "3.9.1":
            found["broker"] = {**found["broker"], "gone.in.four": "0"}
        return found

    assert [not_applicable(e, with_removed) for e in loaded(tmp_path, removed)] == [None, None]


def test_a_java_client_bug_does_not_apply_to_other_clients(tmp_path: Path) -> None:
    text = (
        "name: r1\nknown_bug: {id: KAFKA-1, title: t, side: client, fixed_in: [4.0.0]}\n"
        "producer: {client: librdkafka}\nconsumer: {client: kafka-python}\n"
    )
    (row,) = loaded(tmp_path, text, ("4.4.0",))
    assert not_applicable(row) == "not applicable on librdkafka and kafka-python: KAFKA-1 is a bug of the Java client"


def test_a_feature_asked_off_runs_on_a_release_without_it_and_is_left_out_of_the_format(tmp_path: Path) -> None:
    def with_features(release: str) -> Mapping[str, Mapping[str, str | None]]:
        levels = {"3.9.1": {"transaction.version": "0"}, "4.4.0": {"eligible.leader.replicas.version": "1"}}
        return {**defined(release), "features": levels.get(release, {})}

    text = "name: r1\ncluster: {features: {eligible.leader.replicas.version: 0}}\n"
    old, new = loaded(tmp_path, text)
    assert not_applicable(old, with_features) is None
    ran, reason = fitted(old, with_features)
    assert reason is None and ran.cluster.features == {}  # 3.9.1 has no ELR: off is what it does
    assert fitted(new, with_features) == (new, None)


def test_without_a_jdk_only_needs_decides(tmp_path: Path) -> None:
    def no_jdk(release: str) -> Mapping[str, Mapping[str, str | None]]:
        raise InfrastructureError("no JDK")

    (row,) = loaded(tmp_path, EXPERIMENT, ("3.9.1",))
    assert fitted(row, no_jdk) == (row, None)


def test_a_feature_the_release_lacks_or_cannot_reach_makes_the_row_not_applicable(tmp_path: Path) -> None:
    def with_features(release: str) -> Mapping[str, Mapping[str, str | None]]:
        levels = {"3.9.1": {"transaction.version": "0"}, "4.0.2": {"eligible.leader.replicas.version": "1"}}
        levels["4.4.0"] = levels["4.0.2"]
        return {**defined(release), "features": levels.get(release, {})}

    text = "name: r1\ncluster: {features: {eligible.leader.replicas.version: 1}}\n"
    old, new = loaded(tmp_path, text, ("3.9.1", "4.0.2"))
    assert not_applicable(old, with_features) == (
        "not applicable on Kafka 3.9.1: needs feature eligible.leader.replicas.version at level 1, "
        "which is not a feature of it"
    )
    assert not_applicable(new, with_features) is None
    higher = loaded(tmp_path, text.replace("version: 1", "version: 2"), ("4.0.2",))[0]
    assert not_applicable(higher, with_features) == (
        "not applicable on Kafka 4.0.2: needs feature eligible.leader.replicas.version at level 2, "
        "which goes up to level 1"
    )


def test_client_releases_multiply_only_the_experiments_with_a_java_workload(tmp_path: Path) -> None:
    (tmp_path / "j.yaml").write_text("name: j\nproducer: {client: java}\n")
    (tmp_path / "p.yaml").write_text("name: p\nproducer: {client: kafka-python}\n")
    items = load_suite([tmp_path], client_versions=("3.9.1", "4.0.2"))
    assert [(i.label, i.experiment.java_release) for i in items] == [
        ("j@clients-3.9.1", "3.9.1"),
        ("j@clients-4.0.2", "4.0.2"),
        ("p", "4.4.0"),
    ]


def test_a_corrupt_or_empty_list_is_never_trusted(tmp_path: Path) -> None:
    (tmp_path / "kafka-releases.xml").write_text("<metadata><versioning>")  # torn write
    assert listed_releases(tmp_path, lambda: METADATA) == LISTED
    (tmp_path / "kafka-releases.xml").unlink()
    with pytest.raises(UsageError, match="lists no release"):
        listed_releases(tmp_path, lambda: "<metadata/>")
    assert not (tmp_path / "kafka-releases.xml").exists()
    with pytest.raises(UsageError, match=r"lists no release from 3\.9 on"):
        resolve_versions("all", lambda: ["3.8.1"])
