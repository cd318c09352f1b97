"""A team's cluster (``--bootstrap-servers``): a run there keeps to names under its own prefix,
asks for no fault its backend cannot perform, and refuses bad input in one sentence, exit 2, before
anything starts. No Docker: the cluster here is never connected (its real-cluster test is
``tests/experiments/test_external.py``)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.cluster.external import PREFIX, ExternalCluster, ExternalTarget, namespace
from chaos.errors import UsageError
from chaos.experiments.clusters import check_backend, fault_kinds
from chaos.experiments.loading import load_experiment
from chaos.experiments.plan import plan_experiment
from chaos.faults import REGISTRY
from chaos.faults.backends import CLIENTS, DOCKER, KAFKA_API, check_kinds, external_backend

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
    assert CLIENTS.kinds == frozenset({"client_kill", "client_pause"}) and CLIENTS.kinds < (KAFKA_API.kinds or set())
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
        (["--bootstrap-servers", "kafka-1"], "is not a list of host:port"),
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
