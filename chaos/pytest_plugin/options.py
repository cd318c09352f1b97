"""The plugin's settings: each a command-line option ``--kafka-chaos-…`` and an ini key
``kafka_chaos_…`` (``pytest.ini``, ``[tool.pytest.ini_options]``, ``setup.cfg``); the command line
wins over the ini. ``docs/pytest.md`` lists them.

Only the standard library and pytest are imported here: the plugin is loaded in every pytest run
of an environment where kafka-chaos is installed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: (option suffix and ini suffix, metavar, help); the option is ``--kafka-chaos-<name>``, the ini key
#: ``kafka_chaos_<name with _>``.
_VALUES = (
    ("version", "VERSION", "Kafka release of the cluster fixtures and experiments (default: the newest tested)."),
    ("brokers", "N", "Brokers of the cluster fixtures without a kafka_cluster marker saying so (default 3)."),
    (
        "reports",
        "DIR",
        "Directory for run directories: broker logs, verdicts, reports (default: reports; an ini value is "
        "relative to the rootdir).",
    ),
    ("seed", "N", "Seed for random fault targets and schedules (default 0)."),
    (
        "cluster",
        "RUN_ID",
        "Run the cluster fixtures, scenario and experiments on this running cluster (e.g. from `kafka-chaos "
        "cluster up`), reset before each, instead of starting clusters; its shape must match.",
    ),
)
_FLAGS = (
    (
        "fresh-cluster",
        "A cluster of its own for every test and experiment, instead of one per shape, reset between them.",
    ),
    ("skip-without-docker", "Skip the tests that need the plugin's clusters when no Docker engine answers."),
)
_EXPERIMENTS_HELP = (
    "Files collected as experiment tests: glob patterns relative to the rootdir (e.g. experiments/*.yaml, "
    "**/*.chaos.yaml; ** spans directories). No file is collected unless a pattern names it."
)


def ini_name(option: str) -> str:
    """The ini key of an option.

    >>> ini_name("fresh-cluster")
    'kafka_chaos_fresh_cluster'
    """
    return "kafka_chaos_" + option.replace("-", "_")


def add_options(parser: pytest.Parser) -> None:
    """Every option in the ``kafka-chaos`` group, and its ini key."""
    group = parser.getgroup("kafka-chaos", "kafka-chaos: Kafka clusters in Docker, experiments as tests")
    for name, metavar, text in _VALUES:
        group.addoption(f"--kafka-chaos-{name}", dest=ini_name(name), metavar=metavar, default=None, help=text)
        parser.addini(ini_name(name), text)
    for name, text in _FLAGS:
        group.addoption(f"--kafka-chaos-{name}", dest=ini_name(name), action="store_const", const=True, help=text)
        parser.addini(ini_name(name), text, type="bool", default=False)
    group.addoption(
        "--kafka-chaos-experiments",
        dest=ini_name("experiments"),
        metavar="GLOB",
        action="append",
        default=None,
        help=_EXPERIMENTS_HELP + " Repeatable; replaces the ini's list.",
    )
    parser.addini(ini_name("experiments"), _EXPERIMENTS_HELP, type="linelist")


@dataclass(frozen=True, slots=True)
class Settings:
    """What the options and the ini say, checked."""

    kafka_version: str | None = None
    brokers: int | None = None
    reports: Path = Path("reports")
    seed: int = 0
    cluster: str | None = None
    fresh_cluster: bool = False
    skip_without_docker: bool = False
    #: Glob patterns of experiment files, relative to the rootdir.
    experiments: tuple[str, ...] = ()


def read(config: pytest.Config) -> Settings:
    """The settings of this session: each option's value if given, else its ini key's.

    A path from the command line is relative to the current directory, one from the ini to the
    rootdir.

    Raises:
        pytest.UsageError: a number that is not one, or a given cluster with fresh clusters too.
    """

    def value(name: str) -> str | None:
        given = config.getoption(ini_name(name))
        if given is not None:
            return str(given)
        return str(config.getini(ini_name(name))).strip() or None

    def flag(name: str) -> bool:
        given = config.getoption(ini_name(name))
        return bool(given) if given is not None else bool(config.getini(ini_name(name)))

    reports = Path("reports")
    if (given := config.getoption(ini_name("reports"))) is not None:
        reports = Path(given)
    elif ini := str(config.getini(ini_name("reports"))).strip():
        reports = config.rootpath / ini
    patterns = config.getoption(ini_name("experiments")) or config.getini(ini_name("experiments"))
    settings = Settings(
        kafka_version=value("version"),
        brokers=_number("brokers", value("brokers"), least=1),
        reports=reports,
        seed=_number("seed", value("seed"), least=0) or 0,
        cluster=value("cluster"),
        fresh_cluster=flag("fresh-cluster"),
        skip_without_docker=flag("skip-without-docker"),
        experiments=tuple(p.strip() for p in patterns if p.strip()),
    )
    if settings.cluster is not None and settings.fresh_cluster:
        raise pytest.UsageError(
            "--kafka-chaos-cluster runs on a cluster already up and --kafka-chaos-fresh-cluster starts new ones: "
            "pick one (on the command line or as kafka_chaos_cluster / kafka_chaos_fresh_cluster in the ini)"
        )
    return settings


def _number(name: str, text: str | None, least: int) -> int | None:
    """``text`` as a whole number of at least ``least``, None when not set.

    Raises:
        pytest.UsageError: it is not one; the message names the option and its ini key.
    """
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError:
        number = least - 1
    if number < least:
        raise pytest.UsageError(
            f"--kafka-chaos-{name} / {ini_name(name)} is {text!r}: give a whole number of at least {least}"
        )
    return number


def is_experiment(path: Path, rootdir: Path, patterns: Sequence[str]) -> bool:
    """Whether ``path`` is named by one of the glob ``patterns`` (relative to ``rootdir``): ``*``,
    ``?`` and ``[…]`` match within one directory level, a ``**`` level any number of levels. A file
    outside the rootdir is never one.

    >>> root = Path("/p")
    >>> is_experiment(Path("/p/experiments/b2.yaml"), root, ["experiments/*.yaml"])
    True
    >>> is_experiment(Path("/p/experiments/k8s/pod.yaml"), root, ["experiments/*.yaml"])
    False
    >>> is_experiment(Path("/p/a/b/c1.chaos.yaml"), root, ["**/*.chaos.yaml"])
    True
    >>> is_experiment(Path("/p/c1.chaos.yaml"), root, ["./**/*.chaos.yaml"])
    True
    >>> is_experiment(Path("/elsewhere/experiments/b2.yaml"), root, ["experiments/*.yaml"])
    False
    """
    try:
        parts = path.relative_to(rootdir).parts
    except ValueError:
        return False
    return any(_matches(Path(pattern).parts, parts) for pattern in patterns)


def _matches(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_matches(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _matches(pattern[1:], parts[1:])
