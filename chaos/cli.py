"""The ``kafka-chaos`` command line.

Exit codes (DESIGN.md): 0 success · 1 an expectation failed · 2 usage or input error ·
3 infrastructure error (Docker, images, cluster health).
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chaos import __version__
from chaos.errors import ChaosError, Interrupted, UsageError
from chaos.progress import Progress, StderrProgress, silent
from chaos.signals import sigterm_raises

F = TypeVar("F", bound=Callable[..., Any])


def _emit(data: object, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def _progress(quiet: bool) -> Progress:
    return silent if quiet else StderrProgress()


def json_option(f: F) -> F:
    """``--json``: machine-readable output on stdout (progress stays on stderr)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def quiet_option(f: F) -> F:
    """``--quiet``: no progress lines."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")(f)


def _parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {pair!r} is not KEY=VALUE: write e.g. min.insync.replicas=2")
        out[key.strip()] = value.strip()
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kafka-chaos")
@click.option("-v", "--verbose", count=True, help="More logging (-vv: Kafka client logs too).")
def cli(verbose: int) -> None:
    """Measure how many Kafka messages are actually lost, and where, on a real cluster."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # kafka-python reports every refused connection during broker restarts at ERROR: noise here.
    logging.getLogger("kafka").setLevel(logging.DEBUG if verbose > 1 else logging.CRITICAL)


# -- images --------------------------------------------------------------------------------------
@cli.group()
def images() -> None:
    """Build and list the images (built locally from package registries, never pulled)."""


@images.command("build")
@click.option("--kafka-version", default=None, help="Apache Kafka release (default: the newest 4.x tested).")
@click.option("--force", is_flag=True, help="Rebuild even if the derived tag exists.")
@json_option
@quiet_option
def images_build(kafka_version: str | None, force: bool, as_json: bool, quiet: bool) -> None:
    """Build the base, Kafka and toxiproxy images; a no-op when their tags exist."""
    from chaos.engine import docker_client
    from chaos.images.builder import ImageBuilder
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION, check_kafka_version

    version = check_kafka_version(kafka_version or DEFAULT_KAFKA_VERSION)
    refs = ImageBuilder(docker_client(), progress=_progress(quiet)).build_all(version, force=force)
    _emit(
        {"kafka": refs.kafka, "toxiproxy": refs.toxiproxy}, as_json, f"kafka: {refs.kafka}\ntoxiproxy: {refs.toxiproxy}"
    )


@images.command("list")
@json_option
def images_list(as_json: bool) -> None:
    """List the images the harness built on this engine."""
    from chaos.engine import docker_client
    from chaos.labels import IMAGE_LABEL

    rows = []
    for image in docker_client().images.list(filters={"label": [IMAGE_LABEL]}):
        rows += [
            {
                "tag": tag,
                "kind": image.labels.get(IMAGE_LABEL, ""),
                "size_mb": round((image.attrs.get("Size") or 0) / 1e6),
            }
            for tag in image.tags
        ]
    rows.sort(key=lambda r: str(r["tag"]))
    _emit(
        rows, as_json, "\n".join(f"{r['kind']:10} {r['tag']}  ({r['size_mb']} MB)" for r in rows) or "no images built"
    )


# -- cluster -------------------------------------------------------------------------------------
@cli.group()
def cluster() -> None:
    """Bring a cluster up, inspect it, take it down."""


@cluster.command("up")
@click.option("--brokers", type=int, default=3, show_default=True, help="Number of brokers.")
@click.option(
    "--controllers",
    type=int,
    default=0,
    show_default=True,
    help="Dedicated KRaft controllers (0: every broker is also a controller).",
)
@click.option("--kafka-version", default=None, help="Kafka release whose image to run.")
@click.option("--broker-config", "-c", multiple=True, metavar="KEY=VALUE", help="Broker setting, repeatable.")
@click.option("--run-id", default=None, help="Run id (default: generated).")
@click.option("--health-timeout", type=float, default=120.0, show_default=True, help="Seconds to become healthy.")
@click.option(
    "--kafka-image",
    default=None,
    help="Run brokers from this image instead of the built one (needs java and /opt/kafka/libs).",
)
@click.option("--toxiproxy-image", default=None, help="Run toxiproxy from this image instead of the built one.")
@json_option
@quiet_option
def cluster_up(
    brokers: int,
    controllers: int,
    kafka_version: str | None,
    broker_config: tuple[str, ...],
    run_id: str | None,
    health_timeout: float,
    kafka_image: str | None,
    toxiproxy_image: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Start a cluster and leave it running; `cluster down` removes it."""
    from chaos.cluster import ClusterSpec, KafkaCluster
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION
    from chaos.labels import check_run_id

    if run_id is not None:
        try:
            check_run_id(run_id)
        except ValueError as e:
            raise UsageError(str(e)) from None
    spec = ClusterSpec(
        brokers=brokers,
        controllers=controllers,
        kafka_version=kafka_version or DEFAULT_KAFKA_VERSION,
        broker_config=_parse_pairs(broker_config, "broker config"),
        health_timeout=health_timeout,
        kafka_image=kafka_image,
        toxiproxy_image=toxiproxy_image,
    )
    handle = KafkaCluster(spec, run_id=run_id, progress=_progress(quiet))
    handle.start()  # removes everything it made if it fails or is interrupted
    status = handle.status()
    _emit(
        status,
        as_json,
        f"cluster {handle.run_id} is up\nbootstrap.servers={handle.bootstrap_servers}\n"
        f"toxiproxy API: {status['toxiproxy_api']}\ndown with: kafka-chaos cluster down {handle.run_id}",
    )


def _pick_run(run_id: str | None) -> str:
    from chaos.cluster import running_runs
    from chaos.engine import docker_client

    if run_id:
        return run_id
    runs = running_runs(docker_client())
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise UsageError("no cluster is running: start one with `kafka-chaos cluster up`")
    raise UsageError(f"{len(runs)} clusters are running ({', '.join(runs)}): name one")


@cluster.command("status")
@click.argument("run_id", required=False)
@json_option
def cluster_status(run_id: str | None, as_json: bool) -> None:
    """Show a cluster's nodes, their states and the bootstrap address."""
    from chaos.cluster import KafkaCluster, running_runs
    from chaos.engine import docker_client

    client = docker_client()
    if run_id is None and not running_runs(client):
        _emit([], as_json, "no cluster is running")
        return
    handle = KafkaCluster.attach(_pick_run(run_id), client)
    status = handle.status()
    healthy = True
    try:
        handle.wait_healthy(timeout=5)
    except ChaosError:
        healthy = False
    status["healthy"] = healthy
    lines = [
        f"cluster {status['run_id']} (Kafka {status['kafka_version']}) {'healthy' if healthy else 'NOT healthy'}",
        f"bootstrap.servers={status['bootstrap_servers']}",
    ]
    lines += [
        f"  {n['host']:14} node {n['node_id']:<5} {n['state']}" for n in status["brokers"] + status["controllers"]
    ]
    _emit(status, as_json, "\n".join(lines))


@cluster.command("logs")
@click.argument("run_id", required=False)
@click.option("--node", "nodes", multiple=True, metavar="HOST", help="Only this node: broker-2, toxiproxy, ...")
@click.option("--tail", type=click.IntRange(min=1), default=None, help="Only the last N lines of each.")
def cluster_logs(run_id: str | None, nodes: tuple[str, ...], tail: int | None) -> None:
    """Print the logs of a running cluster's nodes (every restart included), each under its name."""
    from chaos.cluster import KafkaCluster
    from chaos.engine import docker_client
    from chaos.labels import RUN_LABEL, resource_name

    handle = KafkaCluster.attach(_pick_run(run_id), docker_client())
    containers = handle.client.containers.list(all=True, filters={"label": [f"{RUN_LABEL}={handle.run_id}"]})
    by_host = {(c.name or "").removeprefix(resource_name(handle.run_id, "")): c for c in containers}
    unknown = sorted(set(nodes) - set(by_host))
    if unknown:
        raise UsageError(f"cluster {handle.run_id} has no node {unknown[0]!r}: it has {', '.join(sorted(by_host))}")
    for host in nodes or sorted(by_host):
        text = by_host[host].logs(tail=tail if tail is not None else "all").decode(errors="replace")
        click.echo(f"==> {host} <==")
        click.echo(text.rstrip("\n"))


@cluster.command("down")
@click.argument("run_id", required=False)
@click.option("--all", "all_runs", is_flag=True, help="Every running cluster.")
@json_option
def cluster_down(run_id: str | None, all_runs: bool, as_json: bool) -> None:
    """Copy broker logs into reports/<run-id>/logs, then remove the cluster."""
    from chaos.cluster import KafkaCluster, running_runs
    from chaos.engine import docker_client

    client = docker_client()
    runs = running_runs(client) if all_runs else [_pick_run(run_id)]
    removed: dict[str, Any] = {}
    for rid in runs:
        handle = KafkaCluster.attach(rid, client)
        removed[rid] = handle.destroy().as_dict()
    _emit(removed, as_json, "\n".join(f"removed cluster {rid}" for rid in removed) or "no cluster is running")


@cluster.command("heal")
@click.argument("run_id", required=False)
@json_option
def cluster_heal(run_id: str | None, as_json: bool) -> None:
    """Remove every fault from a running cluster: iptables chains and tc qdiscs in the brokers,
    toxiproxy toxics and disabled proxies; thaw paused brokers, start stopped ones."""
    from chaos.cluster import KafkaCluster
    from chaos.engine import docker_client
    from chaos.faults.network import flush_all_chains, harness_chains

    handle = KafkaCluster.attach(_pick_run(run_id), docker_client())
    thawed, started = [], []
    for node in handle.nodes:
        if node.state == "paused":
            node.unpause()
            thawed.append(node.host)
        elif node.state in ("exited", "dead"):
            node.start()
            started.append(node.host)
    flush_all_chains(handle.nodes)
    handle.toxiproxy.reset()
    left = {n.host: harness_chains(n) for n in handle.nodes if n.is_running}
    result = {
        "run_id": handle.run_id,
        "thawed": thawed,
        "started": started,
        "chains_left": {h: c for h, c in left.items() if c},
    }
    _emit(
        result,
        as_json,
        f"healed cluster {handle.run_id}: iptables chains and tc removed, toxiproxy reset"
        + (f", thawed {', '.join(thawed)}" if thawed else "")
        + (f", started {', '.join(started)}" if started else ""),
    )
    if result["chains_left"]:
        raise ChaosError(f"chains still present: {result['chains_left']}")


@cluster.command("fault")
@click.argument("kind")
@click.argument("run_id", required=False)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Fault parameter, repeatable: target=leader:orders:0, delay_ms=500, ... (values read as YAML scalars).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Heal after this many seconds (Ctrl-C heals at once). Default: leave it until `cluster heal`.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for random target choices.")
@json_option
def cluster_fault(
    kind: str, run_id: str | None, params: tuple[str, ...], duration: float | None, seed: int, as_json: bool
) -> None:
    """Inject one fault KIND into a running cluster, for --duration seconds or until `cluster heal`.

    KIND is one of the broker and network faults of experiment files (broker_kill, broker_pause,
    isolate, partition, latency, toxic, ...); client_kill needs a run's workloads, so it is not one.
    """
    import random

    import yaml

    from chaos.cluster import KafkaCluster
    from chaos.engine import docker_client
    from chaos.faults.base import FaultContext, make_fault

    values: dict[str, Any] = {}
    for key, text in _parse_pairs(params, "fault parameter").items():
        try:
            values[key] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            values[key] = text
    fault = make_fault(kind, **values)
    if "workload" in type(fault).params:
        raise UsageError(f"{kind} acts on a run's workloads: use it in an experiment file's faults")
    handle = KafkaCluster.attach(_pick_run(run_id), docker_client())
    ctx = FaultContext(handle, rng=random.Random(seed))
    took = fault.inject(ctx)
    result: dict[str, Any] = {
        "run_id": handle.run_id,
        "fault": fault.describe(),
        "targets": fault.targets,
        "inject_ms": round(took, 1),
    }
    where = f" on {', '.join(fault.targets)}" if fault.targets else ""
    if duration is None:
        result["healed"] = False
        _emit(
            result,
            as_json,
            f"injected {kind}{where} in {took:.0f} ms; it stays until `kafka-chaos cluster heal {handle.run_id}`",
        )
        return
    started = time.monotonic()
    with sigterm_raises():
        try:
            time.sleep(duration)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the fault early; SIGTERM heals and exits
        finally:
            healed = fault.heal(ctx)
    lasted = time.monotonic() - started
    result.update(healed=True, heal_ms=round(healed, 1), lasted_s=round(lasted, 2))
    _emit(result, as_json, f"injected {kind}{where} in {took:.0f} ms, healed after {lasted:.1f}s in {healed:.0f} ms")


# -- reconcile -------------------------------------------------------------------------------------
@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=str))
@json_option
def reconcile(run_dir: str, as_json: bool) -> None:
    """Recompute RUN_DIR/verdict.json from the run's files alone (also after the harness died)."""
    from pathlib import Path

    from chaos.oracle import reconcile_and_write

    if not Path(run_dir).is_dir():
        raise UsageError(f"{run_dir} is not a directory: pass a run directory such as reports/<run-id>")
    verdict = reconcile_and_write(Path(run_dir))
    c, loss, a = verdict.counts, verdict.loss, verdict.anomalies
    text = "\n".join(
        [
            f"run {verdict.run_id}: {'PASSED' if verdict.passed else 'FAILED'}",
            "counts: " + ", ".join(f"{k} {v}" for k, v in c.items()),
            "loss:   " + ", ".join(f"{k} {v}" for k, v in loss.items()),
            "anomalies: " + ", ".join(f"{k} {v}" for k, v in a.items()),
            *(
                f"  {'ok  ' if e['passed'] else 'FAIL'} {e['name']} (actual {e['actual']})"
                for e in verdict.expectations
            ),
        ]
    )
    _emit(verdict.as_dict(), as_json, text)
    if not verdict.passed:
        sys.exit(1)


# -- experiments -------------------------------------------------------------------------------
@cli.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--repeat", default=1, type=click.IntRange(1, 1000), help="Run each experiment N times (loss rates).")
@click.option("--seed", default=0, type=int, help="Seed for random targets and schedules (repetition i adds i-1).")
@click.option(
    "--keep-cluster", is_flag=True, help="Leave each cluster running for debugging (prints how to remove it)."
)
@click.option("--kafka-version", default=None, help="Override the Kafka release of every experiment.")
@click.option(
    "--reports", "reports_dir", default="reports", type=click.Path(path_type=Path), help="Where run directories go."
)
@click.option("-k", "select", default=None, help="Only experiments whose name contains this text.")
@json_option
@quiet_option
def run_cmd(
    paths: tuple[Path, ...],
    repeat: int,
    seed: int,
    keep_cluster: bool,
    kafka_version: str | None,
    reports_dir: Path,
    select: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run experiment files (or directories of them) and write verdicts and reports.

    Every file is checked before anything starts. Exit code: 0 every expectation met, 1 one failed,
    2 a malformed file, 3 a run could not complete (Docker, images, cluster).
    """
    from chaos.experiments.model import load_suite
    from chaos.experiments.runner import RunOptions, RunResult, run_suite

    loaded = load_suite(paths)
    if select:
        loaded = [item for item in loaded if select in item.experiment.name]
        if not loaded:
            raise UsageError(f"no experiment name contains {select!r}: `kafka-chaos list` shows the names")
    if kafka_version:
        from chaos.images.recipes import check_kafka_version

        check_kafka_version(kafka_version)
    options = RunOptions(
        reports_dir=reports_dir,
        seed=seed,
        keep_cluster=keep_cluster,
        kafka_version=kafka_version,
        progress=_progress(quiet),
        status_every=0.0 if quiet else (2.0 if sys.stderr.isatty() else 5.0),
    )

    def one_line(result: RunResult) -> None:
        v = result.verdict
        detail = (
            "loss "
            + " ".join(f"{k}={n}" for k, n in v.loss.items())
            + (
                ""
                if v.passed
                else " · "
                + "; ".join(f"expected {e['name']}, got {e['actual']}" for e in v.expectations if not e["passed"])
            )
            if v
            else f"{result.error_kind}: {result.error}"
        )
        if not as_json:
            click.echo(f"{result.status.upper():6} {result.run_dir.name:40} {result.seconds:6.0f}s  {detail}")

    suite = run_suite(loaded, options, repeat=repeat, on_result=one_line)
    passed = sum(r.status == "passed" for r in suite.results)
    text = (
        f"{passed}/{len(suite.results)} passed in {suite.seconds / 60:.1f} min · "
        f"reports: {suite.suite_dir}/report.html, summary.md, junit.xml"
    )
    if as_json:
        click.echo(json.dumps(json.loads((suite.suite_dir / "suite.json").read_text()), indent=2, sort_keys=True))
    else:
        click.echo(text)
    if suite.exit_code:
        sys.exit(suite.exit_code)


@cli.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@json_option
def list_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    """List (and check) experiment files: name, claim, faults, expectations. Default: experiments/."""
    from chaos.experiments.model import load_suite

    loaded = load_suite(paths or (Path("experiments"),))
    rows: list[dict[str, Any]] = [
        {
            "name": item.experiment.name,
            "file": str(item.path),
            "claim": item.experiment.claim,
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
    _emit(rows, as_json, text)


@cli.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
def report_cmd(run_dir: Path) -> None:
    """Rewrite the reports of a run directory, or of a suite directory (holding suite.json)."""
    from chaos.reports import load_run, rewrite_suite_reports, suite_runs, write_run_reports

    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a directory: pass reports/<suite> or reports/<suite>/<run>")
    if (run_dir / "suite.json").exists():
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


# -- validate --------------------------------------------------------------------------------------
@cli.command()
@click.option("--producer-config", type=click.Path(path_type=Path), required=True, help="Producer .properties.")
@click.option("--consumer-config", type=click.Path(path_type=Path), required=True, help="Consumer .properties.")
@click.option("--topic-config", type=click.Path(path_type=Path), default=None, help="Topic .properties.")
@click.option("--broker-config", type=click.Path(path_type=Path), default=None, help="Broker .properties.")
@click.option("--compare", is_flag=True, help="Also run the recommended settings, to show the fix works.")
@click.option("--static-only", is_flag=True, help="Only the static review: no Docker, seconds.")
@click.option(
    "--faults",
    "fault_names",
    default=",".join(["leader_kill", "broker_isolation", "producer_kill", "consumer_kill", "client_blackhole"]),
    help="Comma-separated faults of the matrix (default: all five).",
)
@click.option(
    "--producer-mode",
    type=click.Choice(["sync", "async", "fire_and_forget", "outbox"]),
    default="sync",
    help="How the application sends (default sync: send().get(), as the brief recommends).",
)
@click.option(
    "--consumer-commit",
    type=click.Choice(["after_process", "per_partition"]),
    default="after_process",
    help="How the application commits when enable.auto.commit=false (default: commitSync after each batch).",
)
@click.option("--kafka-version", default=None, help="Kafka release of the cluster.")
@click.option("--reports", "reports_dir", default="reports", type=click.Path(path_type=Path), help="Output root.")
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
    kafka_version: str | None,
    reports_dir: Path,
    as_json: bool,
    quiet: bool,
) -> None:
    """Will these settings lose messages? A static review, then a fault matrix run against exactly them.

    Exit code: 0 PASS, 1 FAIL (a fault lost records, or a setting is not applied as written),
    2 a malformed or unreadable file, 3 the cluster could not run.
    """
    from chaos.experiments.runner import RunOptions
    from chaos.labels import new_run_id
    from chaos.validate import FAULTS, ValidationReport, read_properties, review
    from chaos.validate.matrix import run_matrix

    faults = [f.strip() for f in fault_names.split(",") if f.strip()]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults:
        raise UsageError(f"unknown fault {unknown[0] if unknown else '(none)'!r}: use some of {', '.join(FAULTS)}")
    if kafka_version:
        from chaos.images.recipes import check_kafka_version

        check_kafka_version(kafka_version)
    files = {"producer": producer_config, "consumer": consumer_config}
    if topic_config:
        files["topic"] = topic_config
    if broker_config:
        files["broker"] = broker_config
    parsed = {kind: read_properties(path) for kind, path in files.items()}  # exit 2 before anything runs
    cfg = review(parsed["producer"], parsed["consumer"], parsed.get("topic"), parsed.get("broker"))
    report = ValidationReport(cfg, {k: str(v) for k, v in files.items()})
    out_dir = reports_dir / f"validate-{new_run_id()}"
    if not static_only:
        from chaos.validate.matrix import experiment_for

        for fault in faults:  # settings the runner would refuse are input errors: before any container
            experiment_for(
                fault,
                "team",
                {
                    "producer": cfg.producer_run,
                    "consumer": cfg.consumer_run,
                    "topic": cfg.topic_run,
                    "broker": cfg.broker_run,
                },
                cfg,
                producer_mode,
                consumer_commit,
            )
        options = RunOptions(
            reports_dir=reports_dir,
            kafka_version=kafka_version,
            progress=_progress(quiet),
            status_every=0.0 if quiet else 5.0,
        )
        report.matrix = run_matrix(cfg, out_dir, options, faults, compare, producer_mode, consumer_commit)
    problems = report.write(out_dir)
    for problem in problems:
        click.echo(f"kafka-chaos: report not written: {problem}", err=True)
    data = report.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        from chaos.validate.report import markdown

        click.echo(markdown(report, data).rstrip())
        click.echo(f"\nreports: {out_dir}/report.html, validate.md, validate.json, junit.xml")
    if not report.passed:
        sys.exit(1)


# -- clean, doctor ---------------------------------------------------------------------------------
@cli.command()
@click.option("--images", "with_images", is_flag=True, help="Also remove the images the harness built.")
@click.option("--run-id", default=None, help="Only this run's resources (default: every run's).")
@json_option
def clean(with_images: bool, run_id: str | None, as_json: bool) -> None:
    """Remove every container and network runs left behind (all carry kafka-chaos.run)."""
    from chaos.cluster import sweep
    from chaos.engine import docker_client

    result = sweep(docker_client(), run_id, images=with_images)
    text = f"removed {len(result.containers)} containers, {len(result.networks)} networks" + (
        f", {len(result.images)} images" if with_images else ""
    )
    _emit(result.as_dict(), as_json, text)
    if result.failures:
        raise ChaosError("could not remove: " + "; ".join(result.failures))


@cli.command()
@json_option
def doctor(as_json: bool) -> None:
    """Say what is present and what to do about what is missing."""
    from chaos.errors import InfrastructureError
    from chaos.images.builder import ImageBuilder
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION, base_tag, kafka_tag, toxiproxy_tag

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str, fix: str = "", required: bool = True) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail, "fix": "" if ok else fix, "required": required})

    check("python", sys.version_info >= (3, 11), platform.python_version(), "use Python 3.11 or newer")
    client = None
    try:
        from chaos.engine import docker_client

        client = docker_client(timeout=10)
        info = client.version()
        check("docker engine", True, f"{info.get('Version')} (API {info.get('ApiVersion')})")
        from chaos.engine import bind_address, published_host

        host = published_host()
        check("published host", True, f"clients reach brokers at {host} (ports bound on {bind_address(host)})")
    except InfrastructureError as e:
        check("docker engine", False, "not reachable", str(e).split(": ", 1)[-1])
    for tool, fix in [
        ("debootstrap", "apt-get install debootstrap"),
        ("mvn", "apt-get install maven"),
        ("go", "apt-get install golang-go"),
        ("tar", "apt-get install tar"),
    ]:
        path = shutil.which(tool)
        check(f"build tool {tool}", path is not None, path or "missing", fix, required=False)
    try:
        import crc32c  # noqa: F401 - only its presence matters

        check("crc32c extension", True, "record checksums in C", required=False)
    except ImportError:
        check(
            "crc32c extension",
            False,
            "missing: kafka-python checksums every batch in Python (about a third slower)",
            "pip install crc32c",
            required=False,
        )
    compose = shutil.which("docker-compose") or (
        shutil.which("docker") and _succeeds(["docker", "compose", "version"]) and "docker compose"
    )
    check(
        "compose",
        bool(compose),
        str(compose or "missing"),
        "apt-get install docker-compose (only for docker-compose.yml)",
        required=False,
    )
    build = "kafka-chaos images build"
    for name, tag in [
        ("base image", base_tag()),
        (f"kafka {DEFAULT_KAFKA_VERSION} image", kafka_tag(DEFAULT_KAFKA_VERSION)),
        ("toxiproxy image", toxiproxy_tag()),
    ]:
        present = client is not None and ImageBuilder(client).exists(tag)
        check(name, present, tag if present else f"{tag} missing", f"run `{build}`", required=name != "base image")
    ok = all(c["ok"] for c in checks if c["required"])
    lines = [
        f"{'ok' if c['ok'] else ('MISSING' if c['required'] else 'missing'):8} {c['check']:22} {c['detail']}"
        + (f"  -> {c['fix']}" if c["fix"] else "")
        for c in checks
    ]
    _emit({"ok": ok, "checks": checks}, as_json, "\n".join(lines))
    if not ok:
        sys.exit(3)


def _succeeds(command: list[str]) -> bool:
    import subprocess

    try:
        return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn harness errors into one line and an exit code."""
    try:
        with sigterm_raises():
            cli.main(args=argv, prog_name="kafka-chaos", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except ChaosError as e:
        click.echo(f"kafka-chaos: {e}", err=True)
        for note in getattr(e, "__notes__", []):
            click.echo(note, err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("kafka-chaos: interrupted; everything this command started was removed", err=True)
        sys.exit(130)
    except Interrupted as e:
        click.echo(
            f"kafka-chaos: terminated by signal {e.signum}; everything this command started was removed", err=True
        )
        sys.exit(128 + e.signum)


if __name__ == "__main__":
    main()
