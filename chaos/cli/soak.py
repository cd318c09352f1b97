"""``kafka-chaos soak``: an experiment file's settings for a long run, a fault every period (docs/soak.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chaos import rundir
from chaos.cli.common import (
    check_directory,
    check_version,
    client_path_option,
    cluster_option,
    external_options,
    files_target,
    json_option,
    progress_for,
    quiet_option,
)
from chaos.cli.explore import parse_budget
from chaos.errors import UsageError

if TYPE_CHECKING:
    from chaos.cluster.config import ClientPath


def _seconds(text: str | None, option: str) -> float | None:
    """``--duration`` and the like in seconds (None: not given).

    Raises:
        UsageError: not a duration, naming the option.
    """
    if text is None:
        return None
    try:
        return parse_budget(text)
    except UsageError:
        raise UsageError(f"{option} {text!r} is not a duration such as 90s, 30m or 2h") from None


@click.command("soak")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--duration", required=True, help="How long the workloads run under faults: 60s, 30m, 2h.")
@click.option("--every", default=None, help="A fault starts every this long (default: the file's, else 30s).")
@click.option(
    "--hold",
    default=None,
    help="Each fault acts this long, healed before the next (default: 10s, or a third of --every).",
)
@click.option(
    "--schedule",
    type=click.Choice(["repeat", "draw"]),
    default=None,
    help="repeat: the file's fault steps again every period (the default for a file with steps); "
    "draw: one fault drawn from the seed every period (the default otherwise).",
)
@click.option("--window", default=None, help="Watched and reported per window this long (default: --every).")
@click.option(
    "--verdict",
    type=click.Choice(["windows", "whole"]),
    default=None,
    help="windows: the verdict is the judged windows' sum, with no final drain and bounded memory (the default); "
    "whole: the whole run is drained and reconciled too, and the windows held against it.",
)
@click.option(
    "--keep-ledgers",
    is_flag=True,
    help="Keep every ledger row and every record of the topic (by default a judged window's ledger rows are "
    "released and the topic has a retention, bounding the disk); a window judged unsure can then fall back to "
    "the whole run's reconcile.",
)
@click.option("--seed", default=0, type=int, help="Seed of the faults drawn (the same seed draws the same).")
@click.option("--client", default=None, metavar="NAME", help="Run every workload on this client.")
@click.option("--kafka-version", default=None, metavar="RELEASE", help="The cluster's Kafka release.")
@click.option("--reports", "reports_dir", default="reports", type=click.Path(path_type=Path), help="Where results go.")
@click.option("--keep-cluster", is_flag=True, help="Leave the cluster running afterwards (prints how to remove it).")
@client_path_option
@cluster_option
@external_options
@json_option
@quiet_option
def soak_cmd(
    path: Path,
    duration: str,
    every: str | None,
    hold: str | None,
    schedule: str | None,
    window: str | None,
    verdict: str | None,
    keep_ledgers: bool,
    seed: int,
    client: str | None,
    kafka_version: str | None,
    reports_dir: Path,
    keep_cluster: bool,
    client_path: ClientPath | None,
    cluster_id: str | None,
    bootstrap_servers: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run PATH's settings as a soak: the workloads run --duration while, every --every, the file's
    fault steps play again, timed within the period, or (--schedule draw) a fault drawn from the seed
    acts for --hold; each is healed before the next period. A drawing soak draws from the file's
    soak.kinds, else its fault steps (each alone, without its timing), else its random faults'
    kinds, else the default ones. Each window's figures are printed as it ends and written to
    soak/windows.jsonl. The verdict is the sum of the windows judged as the soak runs (--verdict
    windows; where a window could not be judged, the whole run's reconcile if --keep-ledgers kept
    what it needs, else inconclusive), or the whole run's reconcile (--verdict whole),
    with its loss per window in soak/soak.md.

    Refused (exit 2) when the disk cannot hold the run's ledgers and logs.

    Exit code: 0 every expectation met, 1 one failed, 2 bad input, 3 the run could not complete,
    4 inconclusive (as `run`'s).
    """
    from chaos.experiments.applicable import release_keys
    from chaos.experiments.loading import load_suite
    from chaos.experiments.runner import RunOptions, keep_hint, run_suite
    from chaos.reports.soak import soak_summary, trend_lines

    if not path.is_file():
        raise UsageError(f"{path} is not an experiment file")
    if client == "all":
        raise UsageError("a soak runs one client: name it with --client (kafka-python, librdkafka, java, …)")
    keys = {"duration": _seconds(duration, "--duration"), "every": _seconds(every, "--every")}
    keys |= {"hold": _seconds(hold, "--hold"), "window": _seconds(window, "--window")}
    soak: dict[str, object] = {k: v for k, v in keys.items() if v is not None}
    if schedule is not None:
        soak["schedule"] = schedule
    if verdict is not None:
        soak["verdict"] = verdict
    if keep_ledgers:
        soak["ledgers"] = "keep"
    check_directory(reports_dir, "--reports")
    check_version(kafka_version)
    releases = [kafka_version] if kafka_version else []
    loaded = load_suite([path], client, client_path, releases, soak=soak)
    options = RunOptions(
        reports_dir=reports_dir,
        seed=seed,
        keep_cluster=keep_cluster,
        progress=progress_for(quiet),
        status_every=0.0,  # the soak's window lines say it
        cluster=cluster_id,
        release_keys=release_keys,
        external=files_target(loaded, bootstrap_servers, client_config, allow_faults_on, ssh_config),
        allow_faults_on=allow_faults_on,
    )
    suite = run_suite(loaded, options)
    (result,) = suite.results
    summary = soak_summary(result.run_dir)
    v = result.verdict
    head = (
        f"{result.status.upper()} {result.run_dir} in {result.seconds / 60:.1f} min: "
        + ("loss " + " ".join(f"{k}={n}" for k, n in v.loss.model_dump().items()) if v and v.conclusive else "")
        + (f"{result.error_kind}: {result.error}" if v is None else "" if v.conclusive else "inconclusive")
    )
    if as_json:
        data = json.loads((suite.suite_dir / rundir.SUITE).read_text())
        click.echo(json.dumps({"suite": data, "soak": summary}, indent=2, sort_keys=True))
    else:
        click.echo(head)
        if summary is not None:
            for line in trend_lines(summary):
                click.echo(f"  {line}")
        click.echo(
            f"windows: {result.run_dir / rundir.SOAK / rundir.SOAK_MARKDOWN}; report: {result.run_dir}/report.html"
        )
    if keep_cluster:
        click.echo(f"cluster kept: remove it with `{keep_hint(result.cluster_id or result.run_id)}`", err=True)
    if suite.exit_code:
        sys.exit(suite.exit_code)
