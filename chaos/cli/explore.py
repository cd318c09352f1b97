"""``kafka-chaos explore``: search fault schedules for one that breaks a file's expectations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chaos.cli.common import (
    check_directory,
    check_version,
    client_path_option,
    client_version_option,
    cluster_option,
    emit,
    json_option,
    progress_for,
    quiet_option,
    releases_option,
    resolve_releases,
)
from chaos.errors import UsageError

if TYPE_CHECKING:
    from chaos.cluster.config import ClientPath

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_budget(text: str) -> float:
    """``90``, ``90s``, ``10m`` or ``1h`` in seconds.

    Raises:
        UsageError: anything else.

    >>> parse_budget("10m"), parse_budget("45"), parse_budget("1.5h")
    (600.0, 45.0, 5400.0)
    """
    m = _DURATION.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise UsageError(f"budget {text!r} is not a duration such as 90s, 10m or 1h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]


@click.command("explore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--budget", default="10m", show_default=True, help="Wall time of the search: 90s, 10m, 1h.")
@click.option("--seed", default=0, type=int, help="Seed of the search (the same seed replays it).")
@click.option("--confirm", default=3, type=click.IntRange(0, 100), help="Runs of the minimal schedule again.")
@click.option("--client", default=None, metavar="NAME", help="Run every workload on this client.")
@releases_option
@client_version_option
@click.option("--reports", "reports_dir", default="reports", type=click.Path(path_type=Path), help="Where results go.")
@client_path_option
@cluster_option
@json_option
@quiet_option
def explore_cmd(
    path: Path,
    budget: str,
    seed: int,
    confirm: int,
    client: str | None,
    kafka_version: str | None,
    client_version: str | None,
    reports_dir: Path,
    client_path: ClientPath | None,
    cluster_id: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Draw fault schedules for PATH's settings, run each on one cluster, and shrink the first whose
    expectations fail to a minimal schedule, written out as an experiment file. With several
    --kafka-version releases, the search runs on each in turn, each with the whole budget.

    Exit code: 0 no schedule failed within the budget, 1 one did (the file says which), 2 bad input,
    3 the cluster could not run.
    """
    from chaos.experiments.explore import describe, explore_file
    from chaos.experiments.runner import RunOptions

    seconds = parse_budget(budget)
    if not path.is_file():
        raise UsageError(f"{path} is not an experiment file")
    check_directory(reports_dir, "--reports")
    check_version(client_version)
    releases: list[str | None] = list(resolve_releases(kafka_version)) or [None]
    results: dict[str, dict[str, object]] = {}
    texts: list[str] = []
    for release in releases:
        options = RunOptions(
            reports_dir=reports_dir,
            seed=seed,
            kafka_version=release,
            client_version=client_version,
            progress=progress_for(quiet),
            cluster=cluster_id,
        )
        found, out = explore_file(path, seconds, seed, options, client, confirm, client_path)
        data: dict[str, object] = {
            "directory": str(out),
            "seed": seed,
            "runs": found.runs,
            "seconds": round(found.seconds, 1),
            "budget_spent": found.budget_spent,
            "schedule": found.schedule,
            "failures": found.failures,
            "confirmations": found.confirmations,
        }
        if found.schedule is None:
            text = f"no failing schedule in {found.runs} runs ({found.seconds / 60:.1f} min); log: {out}/explore.log"
        else:
            text = (
                f"minimal failing schedule after {found.runs} runs: {describe(found.schedule)}\n"
                f"it failed {found.failures} of {found.confirmations} runs again; "
                f"run it with: kafka-chaos run {next(out.glob('*-explored-*.yaml'))}"
            )
        results[release or ""] = data
        texts.append(text if len(releases) == 1 else f"Kafka {release}: {text}")
    if len(releases) == 1:
        emit(next(iter(results.values())), as_json, texts[0])
    else:
        emit({"releases": results}, as_json, "\n".join(texts))
    if any(r["schedule"] is not None for r in results.values()):
        raise SystemExit(1)
