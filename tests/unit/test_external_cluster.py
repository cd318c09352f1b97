"""A team's cluster (``--bootstrap-servers``): a run there keeps to names under its own prefix,
asks for no fault its backend cannot perform, and refuses bad input in one sentence, exit 2, before
anything starts. No Docker: the cluster here is never connected (its real-cluster test is
``tests/experiments/test_external.py``)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.cluster import KafkaCluster
from chaos.cluster.external import PREFIX, ExternalCluster, ExternalTarget, namespace
from chaos.errors import InfrastructureError, UsageError
from chaos.experiments.clusters import check_backend, fault_kinds
from chaos.experiments.loading import load_experiment
from chaos.experiments.plan import plan_experiment
from chaos.faults import REGISTRY
from chaos.faults.backends import CLIENTS, DOCKER, KAFKA_API, check_kinds, external_backend
from chaos.workloads.security import load_client_config

EXPERIMENTS = Path(__file__).parents[2] / "experiments"
RUN_ID = "20261206-010203-ab12"


def connected(consent: str | None = None) -> ExternalCluster:
    """An external cluster as it is once connected, without a network."""
    cluster = ExternalCluster(ExternalTarget("127.0.0.1:9092", allow_faults_on=consent), run_id=RUN_ID)
    cluster.cluster_id = "team-cluster-id"
    return cluster


def experiment(prefix: str):  # type: ignore[no-untyped-def]
    return load_experiment(next(EXPERIMENTS.glob(f"{prefix}-*.yaml")))


def test_the_docker_backend_performs_every_kind_and_the_others_a_named_few() -> None:
    assert all(DOCKER.can(kind) for kind in REGISTRY)
    assert CLIENTS.kinds == frozenset({"client_kill", "client_pause", "client_cut", "client_bandwidth"})
    assert CLIENTS.kinds < (KAFKA_API.kinds or set())
    assert not (KAFKA_API.kinds or set()) - set(REGISTRY)  # every kind a backend names exists
    assert external_backend(True) is KAFKA_API and external_backend(False) is CLIENTS


def test_a_fault_the_backend_cannot_perform_is_refused_naming_the_kind_and_the_backend() -> None:
    with pytest.raises(UsageError) as e:
        check_kinds(["client_kill", "broker_kill"], KAFKA_API, "b2")
    assert "b2 asks for fault broker_kill, which backend kafka-api cannot perform" in str(e.value)
    with pytest.raises(UsageError, match="acts on the cluster, and faults on a team's cluster need its consent: go"):
        check_kinds(["topic_config"], CLIENTS, "x", "go")
    check_kinds(["topic_config", "client_pause"], KAFKA_API, "x")


def test_client_faults_run_on_a_teams_cluster_and_cluster_faults_need_a_backend_and_consent() -> None:
    for name in ("c1", "p1"):
        check_backend(experiment(name), connected())
    with pytest.raises(UsageError, match="asks for fault broker_kill, which backend clients cannot perform"):
        check_backend(experiment("b2"), connected())
    with pytest.raises(UsageError, match="asks for fault broker_kill, which backend kafka-api cannot perform"):
        check_backend(experiment("b2"), connected(consent="team-cluster-id"))
    assert connected(consent="team-cluster-id").faults_allowed and not connected(consent="other").faults_allowed
    assert fault_kinds(experiment("c1")) == {"client_kill"}
    assert fault_kinds(experiment("b2")) == {"broker_pause", "broker_kill"}


def test_a_run_on_a_teams_cluster_names_everything_it_creates_under_its_prefix(tmp_path: Path) -> None:
    space = namespace(RUN_ID)
    assert space.startswith(PREFIX)
    for name in ("c1", "t1", "p5"):
        plan = plan_experiment(experiment(name), RUN_ID, tmp_path, namespace=space)
        created = [plan.topic.name, *plan.groups, *(c.output_topic for c in plan.consumers if c.output_topic)]
        assert created and all(n.startswith(space) for n in created), created
        assert len(plan.topic.name) <= 249


def test_the_harness_deletes_nothing_outside_its_prefix() -> None:
    with pytest.raises(UsageError, match="deletes only names under kafka-chaos-"):
        connected().remove_own("orders")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``kafka-chaos`` answers ``argv`` with, after checking it exits 2."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bootstrap-servers", "kafka-1"], "are not a list of host:port"),
        (["--bootstrap-servers", "127.0.0.1:{port}"], "nothing answers at 127.0.0.1:"),
        (["--client-config", "x.properties"], "--client-config is for a team's cluster: give its --bootstrap-servers"),
        (["--allow-faults-on", "abc"], "--allow-faults-on is for a team's cluster"),
        (["--bootstrap-servers", "127.0.0.1:1", "--client-config", "{tmp}/none"], "cannot read the client config"),
        (["--bootstrap-servers", "127.0.0.1:1", "--cluster", "x"], "pick one"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    filled = [a.format(port=free_port(), tmp=tmp_path) for a in args]
    path = str(next(EXPERIMENTS.glob("c1-*.yaml")))
    assert says in refused(["run", path, "--reports", str(tmp_path / "r"), *filled], capsys)
    assert not any((tmp_path / "r").rglob("verdict.json"))


def test_clean_of_a_teams_cluster_refuses_what_is_not_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--images removes this machine's images" in refused(
        ["clean", "--bootstrap-servers", "127.0.0.1:1", "--images"], capsys
    )
    assert "nothing answers at" in refused(["clean", "--bootstrap-servers", f"127.0.0.1:{free_port()}"], capsys)


class Described(ExternalCluster):
    """A connected team's cluster whose brokers run with ``settings`` and ``features`` (no network)."""

    def __init__(self, settings: dict[str, str], features: dict[str, int]) -> None:
        super().__init__(ExternalTarget("127.0.0.1:9092"), run_id=RUN_ID)
        self.cluster_id = "team-cluster-id"
        self._settings, self._features = settings, features

    def broker_settings(self) -> dict[str, str]:
        return self._settings

    def feature_levels(self) -> dict[str, int]:
        return self._features


def test_what_a_teams_cluster_cannot_give_a_verdict_is_refused_before_it_starts(tmp_path: Path) -> None:
    transactional = experiment("t3")
    with pytest.raises(UsageError, match="writes transactions, whose markers the verdict checks"):
        check_backend(transactional.model_copy(update={"cluster": experiment("c1").cluster}), connected())
    named = experiment("c1")
    producer = named.producer.model_copy(update={"settings": {"transactional.id": "orders-writer"}})
    with pytest.raises(UsageError, match=r"sets transactional\.id, which on a team's cluster could fence"):
        check_backend(named.model_copy(update={"producer": producer}), connected())
    other_topic = load_experiment(
        write(tmp_path, "faults: [{kind: topic_config, topic: orders, config: {retention.ms: 1}, at: 1}]")
    )
    with pytest.raises(UsageError, match="names topic orders: on a team's cluster a fault acts on the run's own"):
        check_backend(other_topic, connected(consent="team-cluster-id"))


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "e.yaml"
    path.write_text(f"name: e\nproducer: {{rate: 10}}\n{extra}\n")
    return path


def test_broker_settings_and_features_the_file_wants_must_be_the_clusters_own(tmp_path: Path) -> None:
    exp = load_experiment(
        write(tmp_path, "cluster: {broker_config: {min.insync.replicas: 2}, features: {transaction.version: 2}}")
    )
    check_backend(exp, Described({"min.insync.replicas": "2"}, {"transaction.version": 2}))
    with pytest.raises(UsageError, match=r"wants broker setting min\.insync\.replicas=2, and the cluster at .* has 1"):
        check_backend(exp, Described({"min.insync.replicas": "1"}, {"transaction.version": 2}))
    with pytest.raises(UsageError, match=r"wants feature transaction\.version at level 2, and the cluster .* has 0"):
        check_backend(exp, Described({"min.insync.replicas": "2"}, {}))


def test_transactional_ids_keep_to_the_namespace_too(tmp_path: Path) -> None:
    space = namespace(RUN_ID)
    plan = plan_experiment(experiment("t1"), RUN_ID, tmp_path, namespace=space)
    ids = [plan.producers[0].transactional_id, *(c.transactional_id for c in plan.consumers)]
    assert all(i.startswith(space) for i in ids), ids


def test_a_bootstrap_list_is_kept_as_clients_read_it() -> None:
    assert ExternalTarget(" 127.0.0.1:9092, ,h:9093,").bootstrap == "127.0.0.1:9092,h:9093"
    for bad in ("kafka:²", "kafka:0", "kafka", ","):
        with pytest.raises(UsageError, match="are not a list of host:port"):
            ExternalTarget(bad)


class Listing(ExternalCluster):
    """A team's cluster answering admin calls from a script: each round lists ``rounds[i]``; a
    deletion named in ``refuse`` fails once."""

    def __init__(self, rounds: list[list[str]], refuse: set[str] | None = None) -> None:
        super().__init__(ExternalTarget("127.0.0.1:9092"), run_id=RUN_ID)
        self.rounds, self.refuse, self.deleted = rounds, refuse or set(), []  # type: ignore[var-annotated]

    def admin_call(self, fn, attempts=3):  # type: ignore[no-untyped-def]
        cluster = self

        class Admin:
            def list_topics(self) -> list[str]:
                return [n for n in cluster.rounds[0] if not n.endswith("-g")]

            def list_groups(self) -> list[dict[str, str]]:
                names = cluster.rounds.pop(0) if len(cluster.rounds) > 1 else cluster.rounds[0]
                return [{"group_id": n} for n in names if n.endswith("-g")]

            def delete_topics(self, topics: list[str], **_: object) -> None:
                cluster.deleted += topics

            def describe_groups(self, groups: list[str]) -> dict[str, dict[str, list[object]]]:
                return {g: {"members": []} for g in groups}

            def delete_groups(self, groups: list[str]) -> None:
                if set(groups) & cluster.refuse:
                    cluster.refuse -= set(groups)
                    from kafka.errors import NonEmptyGroupError

                    raise NonEmptyGroupError("a member is still in it")
                cluster.deleted += groups

        return fn(Admin())


def test_leftovers_are_deleted_until_the_cluster_lists_none_and_a_refusal_is_asked_again() -> None:
    space = namespace(RUN_ID)
    mine, group = f"{space}c1", f"{space}kc-c1-ab12-g"
    cluster = Listing([[mine, group, "orders", "team-g"], [group], []], refuse={group})
    assert cluster.remove_own(space, timeout=20) == sorted([mine, group])
    assert "orders" not in cluster.deleted and "team-g" not in cluster.deleted and group in cluster.deleted


def test_leftovers_the_cluster_keeps_listing_are_named_after_the_timeout() -> None:
    space = namespace(RUN_ID)
    stuck = Listing([[f"{space}t"]])
    with pytest.raises(InfrastructureError, match=f"still lists {space}t after 1s"):
        stuck.remove_own(space, timeout=1)


def test_clean_takes_a_whole_run_id_only(capsys: pytest.CaptureFixture[str]) -> None:
    said = refused(["clean", "--bootstrap-servers", "127.0.0.1:1", "--run-id", "20261206"], capsys)
    assert "--run-id 20261206 is not a whole run id" in said


def test_a_file_may_name_the_teams_cluster_and_the_command_line_still_wins(tmp_path: Path) -> None:
    from chaos.experiments.clusters import with_files_cluster
    from chaos.experiments.options import RunOptions

    (tmp_path / "client.properties").write_text("security.protocol=PLAINTEXT\n")
    external = "cluster: {external: {bootstrap_servers: 'kafka-1:9092,kafka-2:9092', client_config: client.properties}}"
    named = load_experiment(write(tmp_path, external))
    assert named.cluster.external is not None and named.cluster.external.client_config == tmp_path / "client.properties"
    options = with_files_cluster(RunOptions(allow_faults_on="cid"), [named])
    assert options.external == ExternalTarget(
        "kafka-1:9092,kafka-2:9092", load_client_config(tmp_path / "client.properties"), "cid"
    )
    given = RunOptions(external=ExternalTarget("other:9092"))
    assert with_files_cluster(given, [named]) is given
    with pytest.raises(UsageError, match="a suite runs on one cluster"):
        with_files_cluster(RunOptions(), [named, experiment("c1")])
    harness_own = object.__new__(KafkaCluster)  # a cluster the harness started (none needed running)
    with pytest.raises(UsageError, match=r"names a team's cluster .* run it with `kafka-chaos run`"):
        check_backend(named, harness_own)


def test_validate_on_a_teams_cluster_refuses_what_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.properties").write_text("acks=all\n")
    (tmp_path / "c.properties").write_text("enable.auto.commit=false\n")
    files = [
        "validate",
        "--producer-config",
        str(tmp_path / "p.properties"),
        "--consumer-config",
        str(tmp_path / "c.properties"),
    ]
    team = ["--bootstrap-servers", f"127.0.0.1:{free_port()}"]
    assert "needs no --bootstrap-servers" in refused([*files, *team, "--static-only"], capsys)
    assert "a team's cluster runs one release" in refused([*files, *team, "--kafka-version", "3.9.1,4.4.0"], capsys)
    said = refused([*files, *team, "--faults", "leader_kill", "--reports", str(tmp_path)], capsys)
    assert "the matrix's leader_kill asks for fault broker_kill, which backend clients cannot perform" in said


def test_kafka_tools_for_a_teams_cluster_run_on_this_machine_with_the_teams_config(tmp_path: Path) -> None:
    from chaos.cluster.kafka_tools import offsets_with
    from chaos.cluster.toolbox import HostJvm, on_this_machine

    # a stand-in JVM that prints what GetOffsetShell prints, and the arguments it was given
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\nfor a; do echo "arg $a" >&2; done\necho "t:0:5"\necho "t:1:7"\n')
    fake.chmod(0o755)
    access = on_this_machine(str(fake), tmp_path / "libs", "k:9093", tmp_path / "client.properties")
    assert offsets_with(access, "t") == {"beginning": {0: 5, 1: 7}, "end": {0: 5, 1: 7}}
    code, text = access.on.exec(["sh", "-c", f'{access.java} "$@"', "sh", "Tool", *access.args])
    assert code == 0 and f"arg {tmp_path / 'client.properties'}" in text and f"arg {tmp_path}/libs/*" in text
    with pytest.raises(InfrastructureError, match="could not run Kafka's tool on this machine"):
        HostJvm(timeout=0.2).exec(["sleep", "5"])


def test_status_of_a_teams_cluster_takes_no_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    said = refused(["cluster", "status", "20261206-010203-ab12", "--bootstrap-servers", "127.0.0.1:1"], capsys)
    assert "give RUN_ID for a cluster the harness started, or --bootstrap-servers for a team's" in said
