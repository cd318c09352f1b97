"""``kafka-chaos validate``: will a team's settings lose messages?"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from chaos.cli.common import (
    check_directory,
    check_version,
    client_version_option,
    cluster_option,
    external_options,
    external_target,
    given_version,
    json_option,
    progress_for,
    quiet_option,
    resolve_releases,
    to_stderr,
)
from chaos.errors import UsageError
from chaos.validate.findings import PROCESSING
from chaos.workloads.clients import CLIENTS
from chaos.workloads.spec import PRODUCER_MODES

if TYPE_CHECKING:
    from chaos.cluster.external import ExternalTarget
    from chaos.validate.findings import Processing

DEFAULT_FAULTS = "leader_kill,broker_isolation,producer_kill,consumer_kill,client_blackhole"
#: The matrix on a team's cluster (``--bootstrap-servers``): the faults its backend performs.
DEFAULT_TEAM_FAULTS = "producer_kill,consumer_kill"


@click.command()
@click.option("--producer-config", type=click.Path(path_type=Path), required=True, help="Producer .properties.")
@click.option("--consumer-config", type=click.Path(path_type=Path), required=True, help="Consumer .properties.")
@click.option("--topic-config", type=click.Path(path_type=Path), default=None, help="Topic .properties.")
@click.option("--broker-config", type=click.Path(path_type=Path), default=None, help="Broker .properties.")
@click.option("--compare", is_flag=True, help="Also run the recommended settings, to show the fix works.")
@click.option("--static-only", is_flag=True, help="Only the static review: no Docker, seconds.")
@click.option(
    "--faults",
    "fault_names",
    default=DEFAULT_FAULTS,
    help="Comma-separated faults of the matrix (on a team's cluster, default producer_kill,consumer_kill).",
)
@click.option(
    "--producer-mode",
    type=click.Choice(PRODUCER_MODES),
    default="sync",
    help="How the application sends (default sync: send().get(), the durable choice).",
)
@click.option(
    "--consumer-commit",
    type=click.Choice(["after_process", "per_partition"]),
    default="after_process",
    help="How the application commits when enable.auto.commit=false (default: commitSync after each batch).",
)
@click.option(
    "--client",
    type=click.Choice(CLIENTS),
    default="java",
    help="The client the files configure and the matrix runs (default java: .properties files are Java "
    "client configuration; librdkafka also accepts librdkafka's own property names).",
)
@click.option(
    "--processing",
    type=click.Choice(PROCESSING),
    default=None,
    help="How the application processes what poll() returned: before the next poll (in-poll), buffered "
    "into batches (batched), or on other threads (async). Auto-commit loses records only in the last two; "
    "unstated, batched is assumed and the report says so.",
)
@click.option(
    "--process-ms",
    type=click.IntRange(min=0),
    default=None,
    help="How long the application takes to process one poll's records (or one batch), in ms.",
)
@click.option(
    "--app",
    default=None,
    help="The team's application as the matrix's consumer: a command line or a container image "
    "(docs/applications.md); it is told BOOTSTRAP_SERVERS, INPUT_TOPIC, OUTPUT_TOPIC, GROUP_ID, CONSUMER_CONFIG.",
)
@click.option(
    "--app-config",
    type=click.Path(path_type=Path),
    default=None,
    help="A YAML file with the application's section (environment, input shape, correlation), for --app.",
)
@click.option(
    "--kafka-version",
    default=None,
    metavar="RELEASES",
    help="Kafka release of the cluster, whose definitions judge the files; a list (3.9.1,4.4.0), a line "
    "(4.0.x) or all validates on each in turn, each into a folder of its own.",
)
@client_version_option
@click.option("--reports", "reports_dir", default="reports", type=click.Path(path_type=Path), help="Output root.")
@cluster_option
@external_options
@json_option
@quiet_option
def validate(
    producer_config: Path,
    consumer_config: Path,
    topic_config: Path | None,
    broker_config: Path | None,
    compare: bool,
    static_only: bool,
    fault_names: str,
    producer_mode: str,
    consumer_commit: str,
    client: str,
    processing: str | None,
    process_ms: int | None,
    app: str | None,
    app_config: Path | None,
    kafka_version: str | None,
    client_version: str | None,
    reports_dir: Path,
    cluster_id: str | None,
    bootstrap_servers: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Will these settings lose messages? A static review, then a fault matrix run against exactly them.

    Exit code: 0 PASS, 1 FAIL (a fault lost records, or Kafka would refuse or ignore a setting),
    2 a malformed or unreadable file, 3 a matrix run could not complete (Docker, the cluster, no JDK),
    4 a matrix run's verdict was inconclusive.
    """
    from chaos.experiments.runner import RunOptions
    from chaos.labels import new_run_id
    from chaos.reports.github import publish_validation
    from chaos.reports.validation import markdown
    from chaos.validate import validate_files
    from chaos.validate.app_option import application_from

    check_version(client_version)
    releases: list[str | None] = list(resolve_releases(kafka_version)) or [None]
    if static_only and (app is not None or app_config is not None):
        raise UsageError("--static-only runs no fault matrix, so it runs no application: drop --app or --static-only")
    application = application_from(app, app_config, consumer_config)
    releases, fault_names, external = _where(
        cluster_id, (bootstrap_servers, client_config, allow_faults_on, ssh_config), static_only, releases, fault_names
    )
    files = {"producer": producer_config, "consumer": consumer_config}
    if topic_config:
        files["topic"] = topic_config
    if broker_config:
        files["broker"] = broker_config
    check_directory(reports_dir, "--reports")
    base = reports_dir / f"validate-{new_run_id()}"
    faults = [f.strip() for f in fault_names.split(",") if f.strip()]
    codes = []
    outputs: dict[str, object] = {}
    for release in releases:
        out_dir = base / release if len(releases) > 1 and release else base
        options = None
        if not static_only:
            options = RunOptions(
                reports_dir=reports_dir,
                kafka_version=release,
                client_version=client_version,
                progress=progress_for(quiet),
                status_every=0.0 if quiet else 5.0,
                cluster=cluster_id,
                external=external,
            )
        report, problems = validate_files(
            files,
            out_dir,
            options,
            faults,
            compare,
            producer_mode,
            consumer_commit,
            client,
            processing=cast("Processing | None", processing),
            process_ms=process_ms,
            kafka_version=release,
            app=application,
            client_version=client_version,
        )
        for problem in problems:
            click.echo(f"kafka-chaos: report not written: {problem}", err=True)
        output = report.output()
        if as_json:
            outputs[release or output.kafka_version] = output.model_dump(mode="json")
        else:
            click.echo(markdown(output).rstrip())
            click.echo(f"\nreports: {out_dir}/report.html, validate.md, validate.json, junit.xml, validate.sarif")
        for problem in publish_validation(output, os.environ, to_stderr):  # only in GitHub Actions
            click.echo(f"kafka-chaos: {problem}", err=True)
        codes.append(report.exit_code)
    if as_json:  # one object: validate.json's, or per release when there were several
        data = next(iter(outputs.values())) if len(outputs) == 1 else {"releases": outputs}
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    if code := worst(codes):
        sys.exit(code)


def worst(codes: list[int]) -> int:
    """The exit code of several validations: 3 before 4 before 1 before 0.

    >>> worst([0, 1, 4]), worst([1, 3]), worst([0])
    (4, 3, 0)
    """
    for code in (3, 4, 1):
        if code in codes:
            return code
    return 0


def _where(
    cluster_id: str | None,
    team: tuple[str | None, Path | None, str | None, Path | None],
    static_only: bool,
    releases: list[str | None],
    fault_names: str,
) -> tuple[list[str | None], str, ExternalTarget | None]:
    """The releases, the faults and the team's cluster a validation runs with, once ``--cluster`` or
    ``--bootstrap-servers`` (``team``: with ``--client-config``, ``--allow-faults-on`` and ``--ssh-config``)
    are checked.

    Raises:
        UsageError: either with ``--static-only``, or with several releases; a bad client config.
    """
    if cluster_id is not None:
        if static_only:
            raise UsageError("--static-only runs no fault matrix, so it needs no --cluster: drop one of them")
        if len(releases) > 1:
            raise UsageError("--cluster runs one release: give --kafka-version one release, or drop --cluster")
        releases = [releases[0] or given_version(cluster_id)]  # its release judges the files
    external = external_target(*team)
    if external is not None:
        if static_only:
            raise UsageError("--static-only runs no fault matrix, so it needs no --bootstrap-servers: drop one of them")
        if len(releases) > 1:
            raise UsageError("a team's cluster runs one release: give --kafka-version that one")
        if fault_names == DEFAULT_FAULTS:  # a team's cluster takes client faults only, without consent more
            fault_names = DEFAULT_TEAM_FAULTS
    return releases, fault_names, external
