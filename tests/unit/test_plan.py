"""Planning is pure: an experiment file becomes the same plan every time, without Docker, and the
plan says everything the executor will do."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.experiments.loading import load_experiment
from chaos.experiments.plan import UNBOUND, group_name, plan_experiment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_experiment_plans_what_its_file_says(path: Path, tmp_path: Path) -> None:
    exp = load_experiment(path)
    plan = plan_experiment(exp, "20261127-120000-ab12", tmp_path / exp.name, seed=3)
    assert plan.topic.name == exp.topic_name
    assert (plan.topic.partitions, plan.topic.replication_factor) == (
        exp.topic.partitions,
        exp.topic.replication_factor,
    )
    assert [f.kind for f in plan.faults][: len(exp.faults)] == [s.kind for s in exp.faults]
    assert all(f.at + (f.duration or 0) <= plan.window + 1e-9 for f in plan.faults)
    members = exp.consumer.members if exp.consumer else 0
    assert [c.id for c in plan.consumers] == [f"c{i}" for i in range(members)]
    assert plan.groups == ([group_name(exp.name, plan.run_id)] if members else [])
    for spec in plan.workloads:
        assert spec.bootstrap_servers == UNBOUND and spec.run_dir == str(plan.run_dir)
        assert spec.topic == plan.topic.name
    assert plan.budgets.consume_quiet == exp.phases.consume_quiet  # T1 waits 25 s for a recovering member
    bound = plan.bind("127.0.0.1:9092")
    assert {s.bootstrap_servers for s in bound.workloads} == {"127.0.0.1:9092"}
    # targets name partitions of the experiment's own topic
    for fault in plan.faults:
        target = str(fault.params.get("target", ""))
        if target.split(":", maxsplit=1)[0] in ("leader", "followers", "follower", "isr", "out_of_sync"):
            assert target.split(":")[1] == plan.topic.name, target


def test_a_random_schedule_is_drawn_from_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: r\nproducer: {rate: 10}\nrandom_faults: {count: 4, max_duration: 5}\n")
    exp = load_experiment(path)

    def schedule(seed: int) -> list[tuple[str, float, float | None]]:
        plan = plan_experiment(exp, "r1", tmp_path, seed=seed)
        return [(f.kind, f.at, f.duration) for f in plan.faults]

    assert schedule(7) == schedule(7)
    assert schedule(7) != schedule(8)
    assert len(schedule(7)) == 4


def test_acks_0_plans_no_wait_for_acknowledgements(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("name: a\nproducer: {rate: 10, count: 100, settings: {acks: 0}}\n")
    plan = plan_experiment(load_experiment(path), "r1", tmp_path)
    assert not plan.expects_acks and plan.bounded
