"""``kafka-chaos init``: a starter suite in a team's repository — two experiments under the team's
client settings, the pytest lines that collect them, and CI workflows that run them
(``docs/ci.md``)."""

from __future__ import annotations

import json
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from chaos.cli import starter
from chaos.cli.common import check_directory
from chaos.cli.pytest_config import PytestConfig, pytest_config
from chaos.errors import UsageError
from chaos.workloads.clients import CLIENTS

#: What the GitHub workflow prefixes a command that must run as root with: sudo's own PATH would not
#: find kafka-chaos (nor Go or Maven from a setup action).
SUDO = 'sudo -E env "PATH=$PATH" '


@dataclass(slots=True)
class Starter:
    """What init writes (paths relative to the directory, and their text), the pytest lines, the
    team's settings as the experiments took them, and notes for the user."""

    files: dict[str, str]
    pytest: PytestConfig
    settings: list[starter.TeamSettings]
    notes: list[str] = field(default_factory=list)


def _source(path: Path | None, root: Path) -> tuple[str | None, bool]:
    """``path`` as the workflows name it (relative to ``root``, POSIX) and whether it is inside ``root``."""
    if path is None:
        return None, False
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix(), True
    except ValueError:
        return str(resolved), False


def _team(role: str, path: Path | None, root: Path, client: str) -> tuple[starter.TeamSettings, bool]:
    """The team's ``role`` settings read from ``path`` (defaults without one), and whether CI sees the file.

    Raises:
        PropertiesError: the file is missing, unreadable or malformed.
    """
    from chaos.validate.properties import read_properties

    source, inside = _source(path, root)
    props = read_properties(path).values if path is not None else None
    if role == "topic":
        return starter.adapt_topic(props, source), inside
    return starter.adapt(role, props, client, source), inside


def _review(
    teams: list[tuple[starter.TeamSettings, bool]], root: Path, client: str
) -> tuple[list[str] | None, list[str]]:
    """The arguments of the workflows' validate review of the team's files (None: no review), and
    what to tell the user about it."""
    outside = [team.source for team, inside in teams if team.source is not None and not inside]
    if outside:
        note = (
            f"the workflows do not review {' or '.join(outside)} with validate: CI sees only {root}; copy the "
            "files in and run init again with --force"
        )
        return None, [note]
    files = {team.role: team.source for team, _ in teams}
    args = starter.validate_args(files, client)
    if args is None:
        if any(files.values()):
            return None, ["the workflows review the settings with validate only when init is given both client files"]
        return None, []
    if files.get("topic") is None:
        return args, [
            "without --topic-config the review judges the topic by Kafka's defaults: min.insync.replicas=1 fails it"
        ]
    return args, []


def _check_loads(name: str, text: str, team: starter.TeamSettings, client: str) -> None:
    """The experiment ``text`` loads as ``run`` will load it.

    Raises:
        UsageError: the client refuses the team's settings together (each alone was accepted).
    """
    from chaos.experiments.loading import load_experiment
    from chaos.experiments.model import ExperimentFileError

    with tempfile.TemporaryDirectory(prefix="kafka-chaos-init-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_text(text, encoding="utf-8")
        try:
            load_experiment(path)
        except ExperimentFileError as e:
            reason = str(e).split(": ", 2)[-1]
            if "every client" in reason:  # the reason says the fix already
                raise UsageError(f"{team.source or 'the default settings'}: {reason}") from None
            raise UsageError(
                f"{team.source or 'the default settings'}: the {client} client refuses these {team.role} settings "
                f"together ({reason}): fix the file, or pick another client with --client"
            ) from None


def _foreign_yaml(root: Path, ours: set[str]) -> list[str]:
    """A note for each YAML file already in ``root/experiments`` that is no experiment: the pytest
    line init writes and the workflows' ``kafka-chaos run experiments/`` would stop on it."""
    from chaos.errors import ChaosError
    from chaos.experiments.loading import load_experiment

    notes = []
    folder = root / "experiments"
    found = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    for path in found:
        if path.relative_to(root).as_posix() in ours:
            continue
        try:
            load_experiment(path)
        except ChaosError:
            notes.append(
                f"{path} is not an experiment file: pytest (with kafka_chaos_experiments) and "
                "`kafka-chaos run experiments/` would stop on it; move it out of experiments/"
            )
    return notes


def build_starter(
    root: Path, configs: dict[str, Path | None], client: str, ci: str, package: str | None = None
) -> Starter:
    """Everything init writes into ``root`` for the team's ``producer``, ``consumer`` and ``topic``
    files (None: defaults), nothing written yet.

    Raises:
        PropertiesError: a team file is missing, unreadable or malformed.
        UsageError: the client refuses a team's settings together.
    """
    teams = [_team(role, configs.get(role), root, client) for role in ("producer", "consumer", "topic")]
    (producer, _), (consumer, _), (topic, _) = teams
    files = {
        starter.PRODUCER_FILE: starter.producer_experiment(producer, client, topic),
        starter.CONSUMER_FILE: starter.consumer_experiment(consumer, client),
    }
    for (name, text), team in zip(files.items(), (producer, consumer), strict=True):
        _check_loads(name, text, team, client)
    notes = [
        f"left out of the {team.role} settings: {key} ({reason})"
        for team, _ in teams
        for key, reason in team.left_out.items()
    ]
    notes += _foreign_yaml(root, set(files))
    validate, review_notes = _review(teams, root, client)
    if ci != "none":
        notes += review_notes
    if ci in ("github", "both"):
        files[starter.GITHUB_FILE] = starter.ci_file("github", validate, package)
    if ci in ("gitlab", "both"):
        files[starter.GITLAB_FILE] = starter.ci_file("gitlab", validate, package)
    pytest_lines = pytest_config(root)
    if pytest_lines.write:
        files[pytest_lines.file] = pytest_lines.text
    return Starter(files, pytest_lines, [team for team, _ in teams], notes)


def write_starter(root: Path, built: Starter, force: bool) -> list[Path]:
    """Write ``built``'s files under ``root``; returns their paths.

    Raises:
        UsageError: ``root`` is a file, or a file exists and ``force`` is off (nothing is written).
    """
    check_directory(root, "--dir")
    paths = [root / name for name in built.files]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        gitlab = root / starter.GITLAB_FILE
        theirs = gitlab in existing and "kafka-chaos init" not in gitlab.read_text(errors="replace")
        keep = " (or --ci github or --ci none to keep your .gitlab-ci.yml)" if theirs else ""
        if len(existing) == 1:
            raise UsageError(f"{existing[0]} already exists: pass --force to overwrite it{keep}")
        raise UsageError(
            f"{existing[0]} and {len(existing) - 1} more files init writes already exist: "
            f"pass --force to overwrite them{keep}"
        )
    for path in paths:
        if path.is_dir():
            raise UsageError(f"{path} is a directory, where init writes a file: move it, or give another --dir")
    for path, text in zip(paths, built.files.values(), strict=True):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write {path} ({e.strerror or e}): give --dir a directory you can write") from e
    return paths


def next_commands(root: Path) -> list[str]:
    """What to run after init: build the images once (as root), then the experiments."""
    experiments = (root / "experiments").as_posix() + "/"
    return ["kafka-chaos images build", f"kafka-chaos run {shlex.quote(experiments)}"]


def _text(paths: list[Path], built: Starter, root: Path, commands: list[str]) -> str:
    lines = [f"wrote {p}" for p in paths]
    for team in built.settings:
        origin = team.source or "safe defaults (give --" + team.role + "-config FILE for yours)"
        lines.append(f"{team.role} settings: {origin}")
    lines += built.notes
    pytest_file = root / built.pytest.file
    if built.pytest.present:
        lines.append(f"{pytest_file} sets kafka_chaos_experiments already")
    elif not built.pytest.write:
        lines.append(f"add to {pytest_file}, so pytest collects the experiments:\n{built.pytest.text.rstrip()}")
    lines.append(f"next: `{commands[0]}` once, as root (it runs debootstrap), then `{commands[1]}`")
    return "\n".join(lines)


@click.command("init")
@click.option(
    "--dir",
    "root",
    default=".",
    type=click.Path(path_type=Path),
    help="The repository to write into (default: here; created if missing).",
)
@click.option(
    "--producer-config",
    type=click.Path(path_type=Path),
    default=None,
    help="Your producer's .properties: its settings go into the producer experiment (default: safe ones).",
)
@click.option(
    "--consumer-config",
    type=click.Path(path_type=Path),
    default=None,
    help="Your consumer's .properties: its settings go into the consumer experiment (default: safe ones).",
)
@click.option(
    "--topic-config",
    type=click.Path(path_type=Path),
    default=None,
    help="Your topic's .properties (as validate reads it): its settings go into the producer experiment's topic "
    "(default: 3 partitions, 3 replicas, min.insync.replicas=2).",
)
@click.option(
    "--client",
    type=click.Choice(CLIENTS),
    default="java",
    help="The client the experiments run (default java: .properties files are Java client configuration).",
)
@click.option(
    "--ci",
    type=click.Choice(["both", "github", "gitlab", "none"]),
    default="both",
    help="Which CI files to write: GitHub Actions, GitLab CI (Docker-in-Docker), both (default) or none.",
)
@click.option(
    "--package",
    default=None,
    metavar="SPEC",
    help="What the workflows pip-install: a requirement, or a wheel's path or URL "
    "(default: this release, kafka-chaos==VERSION, from the package index).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def init_cmd(
    root: Path,
    producer_config: Path | None,
    consumer_config: Path | None,
    topic_config: Path | None,
    client: str,
    ci: str,
    package: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Write a starter suite: two experiments under your client settings (a partition leader killed
    under your producer's, your consumer killed mid-run under your consumer's), the pytest lines that
    collect them, and CI workflows that build the images and run them.

    Exit code: 0 written, 2 a malformed or missing properties file, or a file that exists (--force
    overwrites it).
    """
    configs = {"producer": producer_config, "consumer": consumer_config, "topic": topic_config}
    built = build_starter(root, configs, client, ci, package)
    paths = write_starter(root, built, force)
    commands = next_commands(root)
    if as_json:
        data: dict[str, Any] = {
            "wrote": [str(p) for p in paths],
            "settings": {t.role: {"source": t.source, "kept": t.kept, "left_out": t.left_out} for t in built.settings},
            "pytest": {
                "file": str(root / built.pytest.file),
                "written": built.pytest.write,
                "present": built.pytest.present,
                "lines": built.pytest.text,
            },
            "notes": built.notes,
            "next": commands,
        }
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(_text(paths, built, root, commands))


def workflow_commands(path: Path, as_root: bool = False) -> list[str]:
    """The shell commands the GitHub workflow at ``path`` runs once kafka-chaos is installed: in each
    job, in order, the ``run:`` of every step after the one that pip-installs kafka-chaos that calls
    kafka-chaos, each as its step's shell runs it (the image build through ``sudo``; ``as_root``:
    without it, for a shell that is root already).

    Raises:
        UsageError: ``path`` is not a workflow whose jobs have steps, one of which installs kafka-chaos.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        jobs: list[list[dict[str, Any]]] = [job["steps"] for job in data["jobs"].values()]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError) as e:
        raise UsageError(f"{path} is not a workflow of jobs with steps ({e}): pass the file init wrote") from e
    commands: list[str] = []
    for steps in jobs:
        runs = [str(step.get("run", "")) for step in steps]
        installs = [i for i, run in enumerate(runs) if run.startswith("pip install ")]
        if not installs:
            raise UsageError(f"{path} has a job that does not install kafka-chaos with pip: pass the file init wrote")
        commands += [run.strip() for run in runs[installs[0] + 1 :] if "kafka-chaos" in run]
    return [c.removeprefix(SUDO) if as_root else c for c in commands]
