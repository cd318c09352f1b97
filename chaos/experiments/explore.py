"""``kafka-chaos explore``: search for a fault schedule under which an experiment's expectations
fail, and shrink it to a minimal one.

Schedules are drawn with Hypothesis strategies (:func:`schedules`): one to four faults, each a kind,
a target, when it starts and how long it lasts. Each schedule runs the experiment file's settings
on one shared cluster, reset before every schedule (:mod:`chaos.experiments.pool`: every fault
healed, the run before's topics and groups deleted, the full ISR back). When a run's expectations
fail, Hypothesis shrinks the schedule with its own machinery: toward fewer faults, simpler kinds
and targets (earlier in :data:`KINDS`, :data:`TARGETS`), shorter faults and later starts, each
candidate run for real. The seed fixes the schedules drawn, and the
example database (``<reports>/.explore-examples``, keyed by the file's name and the seed) lets a
later search with the same seed replay what was found first. The minimal schedule is
then run again ``confirm`` times to say how often it fails, and written out as a ready-to-run
experiment file naming the seed that found it.

The budget bounds the search's wall time: once spent, no further schedule is run (a candidate
that was not run counts as passing, so shrinking stops with the smallest failing schedule so far).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypedDict

import yaml
from hypothesis import HealthCheck, Phase, Verbosity, find, settings
from hypothesis import core as hypothesis_core
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import NoSuchExample

from chaos.cluster.config import ClientPath
from chaos.errors import UsageError
from chaos.experiments.loading import load_experiment
from chaos.experiments.model import Experiment
from chaos.experiments.runner import ExperimentRun, RunOptions, pool_for
from chaos.experiments.schedule_model import FaultStepModel
from chaos.labels import new_run_id

#: Fault kinds a schedule draws from, the simplest first (shrinking moves toward the front).
KINDS = ("broker_kill", "broker_pause", "broker_stop", "isolate")
#: Targets, the simplest first.
TARGETS = ("leader", "followers", "follower", "random")


class ScheduledFault(TypedDict):
    """One fault of a drawn schedule: a kind against a target, from ``at`` s for ``duration`` s."""

    kind: str
    target: str
    at: float
    duration: float


Schedule = list[ScheduledFault]
#: Runs ``exp`` and says whether its expectations failed, with a line about the run.
Trial = Callable[[Experiment], tuple[bool, str]]


def schedules(window: int, max_faults: int = 4) -> st.SearchStrategy[Schedule]:
    """One to ``max_faults`` faults inside a window of ``window`` seconds.

    A fault's start is drawn as seconds before the window's last second (so it shrinks toward
    later starts) and its duration from 1 s up (shrinking toward shorter faults).
    """
    last = max(window - 1, 0)
    step = st.builds(
        lambda kind, target, early, longer: ScheduledFault(
            kind=kind, target=target, at=float(last - early), duration=float(1 + longer)
        ),
        st.sampled_from(KINDS),
        st.sampled_from(TARGETS),
        st.integers(0, last),
        st.integers(0, max(window - 1, 0)),
    )
    return st.lists(step, min_size=1, max_size=max_faults)


def with_schedule(exp: Experiment, schedule: Schedule, name: str | None = None) -> Experiment:
    """``exp`` with ``schedule`` as its faults (and no random ones)."""
    faults = [FaultStepModel.model_validate(step) for step in schedule]
    update: dict[str, object] = {"faults": faults, "random_faults": None}
    if name is not None:
        update["name"] = name
    return exp.model_copy(update=update)


@dataclass(slots=True)
class Exploration:
    """What a search found: the minimal failing schedule (None: none failed within the budget), how
    many schedules ran, and how often the minimal one failed when run again."""

    seed: int
    runs: int = 0
    seconds: float = 0.0
    schedule: Schedule | None = None
    failures: int = 0
    confirmations: int = 0
    log: list[str] = field(default_factory=list)
    budget_spent: bool = False


def explore(
    exp: Experiment,
    trial: Trial,
    budget_s: float,
    seed: int,
    database: Path,
    window: int | None = None,
    confirm: int = 3,
    max_examples: int = 60,
) -> Exploration:
    """Search schedules of ``exp`` for one whose expectations fail (see the module docstring).

    ``trial`` runs an experiment and says whether it failed; ``window`` defaults to the file's
    fault window, at least 10 s.
    """
    span = int(window or max(10.0, exp.fault_window()))
    found = Exploration(seed=seed)
    started = time.monotonic()

    # A schedule's first outcome is its outcome: real runs are not exactly repeatable, and Hypothesis
    # runs the final example again (it would call a schedule that failed once and held once flaky).
    # How often the minimal schedule fails is measured afterwards, by the confirmation runs.
    outcomes: dict[str, bool] = {}

    def fails(schedule: Schedule) -> bool:
        key = describe(schedule)
        if key in outcomes:
            return outcomes[key]
        if time.monotonic() - started > budget_s:
            found.budget_spent = True
            return False
        found.runs += 1
        failed, line = trial(with_schedule(exp, schedule))
        found.log.append(f"{'FAIL' if failed else 'pass'} {key}: {line}")
        outcomes[key] = failed
        return failed

    config = settings(
        database=DirectoryBasedExampleDatabase(str(database)),
        max_examples=max_examples,
        deadline=None,
        derandomize=False,
        phases=(Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    # The seed drives Hypothesis's own random generator through ``core.global_force_seed`` (what its
    # ``--hypothesis-seed`` option sets): the same seed draws the same schedules. Hypothesis's
    # ``seed()`` decorator and ``find(random=…)`` would also switch its example database off, and
    # with it the replay of what an earlier search with this seed found.
    forced = hypothesis_core.global_force_seed
    hypothesis_core.global_force_seed = seed  # type: ignore[assignment]  # typed None: only its plugin sets it
    try:
        found.schedule = find(schedules(span), fails, settings=config, database_key=f"{exp.name}:{seed}".encode())
    except NoSuchExample:
        found.schedule = None
    finally:
        hypothesis_core.global_force_seed = forced
    if found.schedule is not None:
        for _ in range(confirm):
            failed, line = trial(with_schedule(exp, found.schedule))
            found.confirmations += 1
            found.failures += failed
            found.log.append(f"again {'FAIL' if failed else 'pass'} {describe(found.schedule)}: {line}")
    found.seconds = time.monotonic() - started
    return found


def describe(schedule: Schedule) -> str:
    """A schedule in a line.

    >>> describe([{"kind": "broker_kill", "target": "leader", "at": 3.0, "duration": 2.0}])
    'broker_kill(leader) at 3s for 2s'
    """
    return "; ".join(f"{s['kind']}({s['target']}) at {s['at']:g}s for {s['duration']:g}s" for s in schedule)


def experiment_file(exp: Experiment, found: Exploration, source: Path | None) -> str:
    """The minimal failing schedule as a ready-to-run experiment file (YAML)."""
    assert found.schedule is not None
    name = f"{exp.name}-explored-{found.seed}"[:63]
    out = with_schedule(exp, found.schedule, name=name)
    header = (
        f"# Found by `kafka-chaos explore {source or exp.name} --seed {found.seed}` after {found.runs} runs; "
        f"failed {found.failures} of {found.confirmations} runs again.\n"
    )
    body = yaml.safe_dump(out.model_dump(mode="json", exclude_none=True, exclude_defaults=True), sort_keys=False)
    return header + body


def explore_file(
    path: Path,
    budget_s: float,
    seed: int,
    options: RunOptions,
    client: str | None = None,
    confirm: int = 3,
    client_path: ClientPath | None = None,
) -> tuple[Exploration, Path]:
    """Load ``path``, search (:func:`explore`) on one cluster of its shape, reset before every
    schedule (a fresh one when a reset fails), and write what was
    found under ``<reports>/explore-<id>/``: a run directory per schedule, ``explore.log``, and, when
    a schedule failed, ``<name>-explored-<seed>.yaml``. Returns the search and that directory.

    ``client_path`` puts the clients of every schedule's run on that path (None: the file's own).
    The schedules draw no kind that acts on the proxied client path, so they suit either.

    Raises:
        UsageError: a malformed file (also one with a fault on the proxied client path and the
        direct one), or ``--cluster`` names no running cluster or one of another shape. (A cluster
        that cannot start fails that schedule's run, which then has no verdict and counts as
        holding; ``explore.log`` says why.)
    """
    exp = load_experiment(path, client_path=client_path).for_client(client)
    if exp.cluster.external is not None or options.external is not None:
        raise UsageError(
            f"{path} names a team's cluster, and explore's schedules draw broker faults: run it with `run`"
        )
    exp = exp.on_release(options.kafka_version, options.client_version)  # the file written names them
    out = Path(options.reports_dir) / f"explore-{new_run_id()}"
    # One cluster for the search, reset before every schedule: a schedule whose faults could not all
    # be applied or healed must not leave the next one a broken cluster (a failed reset: a fresh one).
    pool = pool_for(options, out, [(exp.name, exp.cluster.spec(options.kafka_version))])
    out.mkdir(parents=True)
    count = [0]
    quiet = replace(options, status_every=0.0)

    def trial(candidate: Experiment) -> tuple[bool, str]:
        count[0] += 1
        name = f"{exp.name}-{count[0]}"[:63]
        run = ExperimentRun(candidate.model_copy(update={"name": name}), out / name, quiet, path, pool=pool)
        result = run.run()
        v = result.verdict
        if v is None:
            return False, f"{name}: no verdict ({result.error})"
        failed = v.conclusive and not v.passed
        wrong = [e.sentence() for e in v.failed_expectations()]
        options.progress(f"explore: {name} {'FAILS' if failed else 'holds'} {'; '.join(wrong)}")
        return failed, f"{name}: " + ("; ".join(wrong) or ("holds" if v.conclusive else "inconclusive"))

    try:
        database = Path(options.reports_dir) / ".explore-examples"
        found = explore(exp, trial, budget_s, seed, database, confirm=confirm)
    finally:
        pool.close()
    (out / "explore.log").write_text("\n".join(found.log) + "\n")
    if found.schedule is not None:
        (out / f"{exp.name}-explored-{seed}.yaml").write_text(experiment_file(exp, found, path))
    return found, out
