"""``kafka-chaos run``, ``list``, ``report`` and ``reconcile``: experiments, their reports, verdicts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chaos import rundir
from chaos.cli.common import (
    check_directory,
    client_path_option,
    client_versions_option,
    cluster_option,
    emit,
    external_options,
    files_target,
    json_option,
    progress_for,
    quiet_option,
    releases_option,
    resolve_releases,
    to_stderr,
)
from chaos.errors import UsageError

if TYPE_CHECKING:
    from chaos.cluster.config import ClientPath


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=str))
@json_option
def reconcile(run_dir: str, as_json: bool) -> None:
    """Recompute RUN_DIR/verdict.json from the run's files alone (also after the harness died).

    Exit code: 0 every expectation met, 1 one failed, 2 not a run directory, 4 the verdict is
    inconclusive (no loss figure: its inputs were not whole).
    """
    from chaos.oracle import reconcile_and_write
    from chaos.results import EXIT_INCONCLUSIVE

    if not Path(run_dir).is_dir():
        raise UsageError(f"{run_dir} is not a directory: pass a run directory such as reports/<run-id>")
    verdict = reconcile_and_write(Path(run_dir))
    c, a = verdict.counts, verdict.anomalies
    outcome = "INCONCLUSIVE" if not verdict.conclusive else "PASSED" if verdict.passed else "FAILED"
    causes = verdict.causes.get("broker", {})
    text = "\n".join(
        [
            f"run {verdict.run_id}: {outcome}",
            *(f"  unsure: {reason}" for reason in verdict.trust.reasons),
            "counts: " + ", ".join(f"{k} {v}" for k, v in c.model_dump().items()),
            "loss:   " + ", ".join(f"{k} {'n/a' if v is None else v}" for k, v in verdict.loss.model_dump().items()),
            *(
                ["broker loss by cause: " + ", ".join(f"{k} {n}" for k, n in causes.items() if n)]
                if verdict.conclusive and any(causes.values())
                else []
            ),
            "anomalies: " + ", ".join(f"{k} {v}" for k, v in a.items()),
            *(f"  {'ok  ' if e.passed else 'FAIL'} {e.name} (actual {e.actual})" for e in verdict.expectations),
        ]
    )
    emit(verdict.model_dump(mode="json"), as_json, text)
    if not verdict.conclusive:
        sys.exit(EXIT_INCONCLUSIVE)
    if not verdict.passed:
        sys.exit(1)


@click.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--repeat", default=1, type=click.IntRange(1, 1000), help="Run each experiment N times (loss rates).")
@click.option("--seed", default=0, type=int, help="Seed for random targets and schedules (repetition i adds i-1).")
@click.option(
    "--keep-cluster", is_flag=True, help="Leave each cluster running for debugging (prints how to remove it)."
)
@click.option(
    "--fresh-cluster",
    is_flag=True,
    help="Start a cluster for every run instead of reusing one per cluster shape, reset between runs.",
)
@releases_option
@client_versions_option
@click.option(
    "--reports", "reports_dir", default="reports", type=click.Path(path_type=Path), help="Where run directories go."
)
@click.option("-k", "select", default=None, help="Only experiments whose name contains this text.")
@click.option(
    "--client",
    default=None,
    metavar="NAME",
    help="Run every workload on this client: kafka-python, librdkafka, java, an installed client's name, "
    "or all (each in turn). Default: each file's own (kafka-python unless it says otherwise).",
)
@client_path_option
@cluster_option
@external_options
@click.option(
    "--engines",
    default=None,
    metavar="URL,URL",
    help="Spread the suite over these Docker engines (DOCKER_HOST-style: unix://, tcp://, ssh://), one run "
    "per engine at a time, into one suite report (docs/engines.md).",
)
@json_option
@quiet_option
def run_cmd(
    paths: tuple[Path, ...],
    repeat: int,
    seed: int,
    keep_cluster: bool,
    fresh_cluster: bool,
    kafka_version: str | None,
    client_version: str | None,
    reports_dir: Path,
    select: str | None,
    client: str | None,
    client_path: ClientPath | None,
    cluster_id: str | None,
    bootstrap_servers: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None,
    engines: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run experiment files (or directories of them) and write verdicts and reports.

    Every file is checked before anything starts. Exit code: 0 every expectation met, 1 one failed,
    2 a malformed file, 3 a run could not complete (Docker, images, cluster), 4 a verdict was
    inconclusive (no loss figure: its inputs were not whole).

    Experiments with the same cluster shape run on one cluster, reset between runs (every fault
    healed, the run's topics and groups deleted, every replica in sync); a reset that fails falls
    back to a fresh cluster. The runs are grouped by shape, in the order the shapes first appear.
    ``--cluster RUN_ID`` runs them all on a cluster already up, reset before each and left running.
    ``--bootstrap-servers`` runs them on a team's cluster (``docs/external-clusters.md``).
    ``--engines`` spreads them over several Docker engines (``docs/engines.md``).
    """
    from chaos.engine import parse_engines
    from chaos.experiments.applicable import release_keys
    from chaos.experiments.engines import run_on_engines
    from chaos.experiments.loading import load_suite
    from chaos.experiments.runner import RunOptions, RunResult, keep_hint, run_suite
    from chaos.reports.github import publish_suite

    spread = None if engines is None else parse_engines(engines)
    releases = resolve_releases(kafka_version)
    loaded = load_suite(paths, client, client_path, releases, resolve_releases(client_version, "--client-version"))
    if select:
        loaded = [item for item in loaded if select in item.experiment.name]
        if not loaded:
            raise UsageError(f"no experiment name contains {select!r}: `kafka-chaos list` shows the names")
    check_directory(reports_dir, "--reports")
    progress = progress_for(quiet)
    options = RunOptions(
        reports_dir=reports_dir,
        seed=seed,
        keep_cluster=keep_cluster,
        fresh_cluster=fresh_cluster,
        progress=progress,
        status_every=0.0 if quiet else (2.0 if sys.stderr.isatty() else 5.0),
        cluster=cluster_id,
        release_keys=release_keys,
        external=files_target(loaded, bootstrap_servers, client_config, allow_faults_on, ssh_config),
        allow_faults_on=allow_faults_on,
    )

    def one_line(result: RunResult) -> None:
        v = result.verdict
        detail = (
            "inconclusive: " + "; ".join(v.trust.reasons)
            if v and not v.conclusive
            else "loss "
            + " ".join(f"{k}={n}" for k, n in v.loss.model_dump().items())
            + ("" if v.passed else " · " + "; ".join(e.sentence() for e in v.failed_expectations()))
            if v
            else result.not_applicable or f"{result.error_kind}: {result.error}"
        )
        status = "N/A" if result.not_applicable else result.status.upper()
        if not as_json:
            click.echo(f"{status:6} {result.run_dir.name:40} {result.seconds:6.0f}s  {detail}")

    if spread is None:
        suite = run_suite(loaded, options, repeat=repeat, on_result=one_line)
    else:
        suite = run_on_engines(loaded, options, spread, repeat=repeat, on_result=one_line)
    passed = sum(r.status == "passed" for r in suite.results)
    skipped = sum(r.status == "not_applicable" for r in suite.results)
    text = (
        f"{passed}/{len(suite.results) - skipped} passed"
        + (f", {skipped} not applicable" if skipped else "")
        + f" in {suite.seconds / 60:.1f} min · "
        f"reports: {suite.suite_dir}/report.html, summary.md, junit.xml"
    )
    if as_json:
        click.echo(json.dumps(json.loads((suite.suite_dir / rundir.SUITE).read_text()), indent=2, sort_keys=True))
    else:
        click.echo(text)
    for problem in publish_suite(suite.suite_dir, os.environ, to_stderr):  # only in GitHub Actions
        click.echo(f"kafka-chaos: {problem}", err=True)
    if keep_cluster:  # said even with -q: a kept cluster runs until someone removes it
        for result in suite.results:
            click.echo(
                f"cluster of {result.name} kept: remove it with `{keep_hint(result.cluster_id or result.run_id)}`",
                err=True,
            )
    if suite.exit_code:
        sys.exit(suite.exit_code)


@click.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@json_option
def list_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    """List (and check) experiment files: name, claim, faults, expectations (--json: also the client
    and the client path). Default: experiments/."""
    from chaos.experiments.loading import load_suite

    loaded = load_suite(paths or (Path("experiments"),))
    rows: list[dict[str, Any]] = [
        {
            "name": item.experiment.name,
            "file": str(item.path),
            "claim": item.experiment.claim,
            "client": item.experiment.client,
            "client_path": item.experiment.client_path,
            "faults": [s.kind for s in item.experiment.faults]
            + ([f"random x{item.experiment.random_faults.count}"] if item.experiment.random_faults else []),
            "expect": {k: str(v) for k, v in item.experiment.expect.items()},
            "description": item.experiment.description.strip(),
        }
        for item in loaded
    ]
    text = "\n".join(
        f"{r['name']:44} {r['claim'] or '':4} {', '.join(r['faults']) or 'no faults':24} "
        + ", ".join(f"{k} {v if str(v)[:1] in '<>!=' else '== ' + str(v)}" for k, v in r["expect"].items())
        for r in rows
    )
    emit(rows, as_json, text)


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
def report_cmd(run_dir: Path) -> None:
    """Rewrite the reports of a run directory, or of a suite directory (holding suite.json)."""
    from chaos.reports import load_run, rewrite_suite_reports, suite_runs, write_run_reports

    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a directory: pass reports/<suite> or reports/<suite>/<run>")
    if (run_dir / rundir.SUITE).exists():
        problems = []
        for run in suite_runs(run_dir):
            problems += write_run_reports(run.run_dir)
        problems += rewrite_suite_reports(run_dir)
    else:
        load_run(run_dir)
        problems = write_run_reports(run_dir)
    for problem in problems:
        click.echo(f"kafka-chaos: {problem}", err=True)
    click.echo(f"wrote {run_dir}/report.html, summary.md, junit.xml")
    if problems:
        sys.exit(1)
