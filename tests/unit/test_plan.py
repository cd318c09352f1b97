"""Planning is pure: an experiment file becomes the same plan every time, without Docker, and the
plan says everything the executor will do. Each shipped experiment's plan is compared with the one
stored under golden/plans/; when a change of plan is intended, store the new ones with
``KAFKA_CHAOS_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_plan.py`` and review the diff."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from chaos.experiments.loading import load_experiment
from chaos.experiments.plan import plan_experiment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))
#: Each shipped experiment's plan as it was last reviewed (seed 3, a fixed run id and directory).
GOLDEN = Path(__file__).resolve().parent / "golden" / "plans"
#: Set to 1 to store today's plans instead of comparing with them, when a change of plan is intended.
UPDATE = "KAFKA_CHAOS_UPDATE_GOLDEN"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_experiment_plans_what_its_stored_plan_says(path: Path) -> None:
    exp = load_experiment(path)
    plan = plan_experiment(exp, "20261127-120000-ab12", Path("/runs") / exp.name, seed=3)
    # the repository's own paths (an application's program) as {ROOT}: the stored plan holds on any checkout
    got = json.loads(json.dumps(asdict(plan), default=str).replace(str(ROOT), "{ROOT}"))
    golden = GOLDEN / f"{path.stem}.json"
    if os.environ.get(UPDATE) == "1":
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    regenerate = (
        f"if the change of plan is intended, `{UPDATE}=1 python3 -m pytest tests/unit/test_plan.py` and read the diff"
    )
    assert golden.is_file(), f"no stored plan for {path.name}: {regenerate}"
    assert got == json.loads(golden.read_text()), f"{path.name} no longer plans as {golden} says: {regenerate}"
    bound = plan.bind("127.0.0.1:9092")
    assert {s.bootstrap_servers for s in bound.workloads} == {"127.0.0.1:9092"}


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
