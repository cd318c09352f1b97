"""``explore`` without a cluster: a stand-in trial decides which schedules fail, and the search
must find one and shrink it to the minimal schedule, replay it from its database, respect its
budget, find nothing where nothing fails, and write a file ``kafka-chaos run`` accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chaos.experiments.explore import experiment_file, explore, schedules
from chaos.experiments.loading import load_experiment
from chaos.experiments.model import Experiment

EXP = Experiment.model_validate(
    {"name": "acks1", "producer": {"rate": 100, "settings": {"acks": 1}}, "expect": {"broker_loss": 0}}
)


def leader_kill_fails(exp: Experiment) -> tuple[bool, str]:
    """Loss whenever the leader is killed for 3 s or more (what acks=1 with lagging followers does)."""
    hit = any(f.kind == "broker_kill" and f.params["target"] == "leader" and (f.duration or 0) >= 3 for f in exp.faults)
    return hit, "lost" if hit else "held"


def test_a_failing_schedule_is_found_and_shrunk_to_one_fault(tmp_path: Path) -> None:
    found = explore(EXP, leader_kill_fails, budget_s=60, seed=1, database=tmp_path / "db", window=10)
    assert found.schedule == [{"kind": "broker_kill", "target": "leader", "at": 9.0, "duration": 3.0}]
    assert (found.failures, found.confirmations) == (3, 3)
    assert found.runs > 1 and any(line.startswith("FAIL") for line in found.log)


def test_the_database_replays_what_was_found(tmp_path: Path) -> None:
    first = explore(EXP, leader_kill_fails, budget_s=60, seed=2, database=tmp_path / "db", window=10)
    again = explore(EXP, leader_kill_fails, budget_s=60, seed=2, database=tmp_path / "db", window=10, confirm=0)
    assert again.schedule == first.schedule
    assert any(line.startswith("FAIL") for line in again.log[:3]), again.log  # the saved one, tried first
    assert again.runs <= first.runs


def test_nothing_failing_means_no_schedule(tmp_path: Path) -> None:
    found = explore(EXP, lambda e: (False, "held"), budget_s=60, seed=3, database=tmp_path / "db", max_examples=20)
    assert found.schedule is None and found.runs == 20 and found.confirmations == 0


def test_the_budget_stops_the_search(tmp_path: Path) -> None:
    found = explore(EXP, leader_kill_fails, budget_s=0, seed=4, database=tmp_path / "db")
    assert found.runs == 0 and found.schedule is None and found.budget_spent


def test_schedules_stay_inside_the_window() -> None:
    from hypothesis import given, settings

    @settings(max_examples=50, deadline=None)
    @given(schedules(12))
    def check(schedule: list[dict[str, object]]) -> None:
        assert 1 <= len(schedule) <= 4
        for step in schedule:
            assert 0 <= float(step["at"]) <= 11 and 1 <= float(step["duration"]) <= 12  # type: ignore[arg-type]

    check()


def test_the_written_file_is_a_ready_to_run_experiment(tmp_path: Path) -> None:
    found = explore(EXP, leader_kill_fails, budget_s=60, seed=5, database=tmp_path / "db", window=10)
    path = tmp_path / "found.yaml"
    path.write_text(experiment_file(EXP, found, Path("experiments/acks1.yaml")))
    assert path.read_text().startswith("# Found by `kafka-chaos explore experiments/acks1.yaml --seed 5`")
    exp = load_experiment(path)
    assert exp.name == "acks1-explored-5" and [f.kind for f in exp.faults] == ["broker_kill"]
    assert exp.producer.settings == {"acks": 1} and exp.expect == {"broker_loss": 0}


def test_a_bad_budget_exits_2_in_one_sentence(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaos.cli",
            "explore",
            "experiments/b2-acks1-leader-kill-lagging-followers.yaml",
            "--budget",
            "soon",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "budget 'soon' is not a duration" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_schedule_keeps_its_first_outcome(tmp_path: Path) -> None:
    """Real runs are not exactly repeatable: a schedule that fails once and holds when Hypothesis
    runs it again must not end the search in a flaky-test error."""
    seen: set[str] = set()

    def once(exp: Experiment) -> tuple[bool, str]:
        key = repr([(f.kind, f.params, f.at, f.duration) for f in exp.faults])
        first = key not in seen
        seen.add(key)
        return leader_kill_fails(exp)[0] and first, "lost once"

    found = explore(EXP, once, budget_s=60, seed=6, database=tmp_path / "db", window=10)
    assert found.schedule == [{"kind": "broker_kill", "target": "leader", "at": 9.0, "duration": 3.0}]
    assert found.failures == 0 and found.confirmations == 3  # measured again: it held every time


def test_the_seed_fixes_the_schedules_drawn(tmp_path: Path) -> None:
    one = explore(EXP, leader_kill_fails, budget_s=60, seed=3, database=tmp_path / "a", window=10, confirm=0)
    two = explore(EXP, leader_kill_fails, budget_s=60, seed=3, database=tmp_path / "b", window=10, confirm=0)
    other = explore(EXP, leader_kill_fails, budget_s=60, seed=4, database=tmp_path / "c", window=10, confirm=0)
    assert one.log == two.log and one.log != other.log
