"""``kafka-chaos cluster``: bring a cluster up, inspect it, fault and heal it by hand, take it down."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chaos.cli.common import (
    emit,
    external_options,
    external_target,
    json_option,
    parse_pairs,
    pick_run,
    progress_for,
    quiet_option,
)
from chaos.errors import UsageError

if TYPE_CHECKING:
    from chaos.cluster.external import ExternalTarget


@click.group()
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
@click.option(
    "--disk",
    type=click.Choice(["plain", "kcfs"]),
    default="plain",
    show_default=True,
    help="Brokers' data disk; kcfs can lose power and fail (power_loss, disk_full, disk_error).",
)
@click.option("--log-dirs", type=click.IntRange(1, 4), default=1, show_default=True, help="Log directories per broker.")
@click.option(
    "--feature", "features", multiple=True, metavar="NAME=LEVEL", help="Feature level to format with, repeatable."
)
@click.option(
    "--security",
    type=click.Choice(["none", "sasl_ssl"]),
    default="none",
    show_default=True,
    help="sasl_ssl: each broker also serves a SASL_SSL listener (PLAIN and SCRAM-SHA-512), for clients "
    "given a client properties file.",
)
@click.option(
    "--sshd",
    is_flag=True,
    help="Every node also runs an SSH server (root, by the key in the printed ssh.yaml) and Kafka runs in it "
    "as a process with a pid file, which can be killed, stopped and started again over SSH while its "
    "container lives on. Needs `kafka-chaos images build --sshd`.",
)
@click.option(
    "--engines",
    default=None,
    metavar="URL,URL",
    help="Spread the nodes over these Docker engines of this machine (unix:// addresses, in turn by node; "
    "DOCKER_HOST's among them runs toxiproxy), e.g. the one `bash scripts/second-engine` starts.",
)
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
    disk: str,
    log_dirs: int,
    features: tuple[str, ...],
    security: str,
    sshd: bool,
    engines: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Start a cluster and leave it running; `cluster down` removes it.

    With ``--security sasl_ssl`` it prints the secure listeners' bootstrap address and the path of
    the client properties file (never its contents: it holds the password). With ``--sshd`` it
    prints the path of ssh.yaml, which says how to reach each node over SSH.
    """
    from chaos.cluster import ClusterSpec, KafkaCluster
    from chaos.engine import parse_engines
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
        broker_config=parse_pairs(broker_config, "broker config"),
        health_timeout=health_timeout,
        kafka_image=kafka_image,
        toxiproxy_image=toxiproxy_image,
        disk=disk,
        log_dirs=log_dirs,
        features=_levels(parse_pairs(features, "feature")),
        security=security,
        sshd=sshd,
        engines=tuple(parse_engines(engines)) if engines is not None else (),
    )
    handle = KafkaCluster(spec, run_id=run_id, progress=progress_for(quiet))
    handle.start()  # removes everything it made if it fails or is interrupted
    status: dict[str, Any] = dict(handle.status())
    extra = ""
    if security == "sasl_ssl":
        status["client_config"] = str(handle.client_config_path())
        status["client_config_plain"] = str(handle.client_config_path("PLAIN"))
        extra = (
            f"SASL_SSL: bootstrap.servers={handle.secure_bootstrap_servers}\n"
            f"client config (SCRAM-SHA-512): {status['client_config']}\n"
            f"client config (PLAIN): {status['client_config_plain']}\n"
        )
    if sshd:
        status["ssh_config"] = str(handle.ssh_config_path())
        extra += f"ssh config: {status['ssh_config']}\n"
    emit(
        status,
        as_json,
        f"cluster {handle.run_id} is up\nbootstrap.servers={handle.bootstrap_servers}\n"
        f"direct (no proxy): bootstrap.servers={handle.direct_bootstrap_servers}\n{extra}"
        f"toxiproxy API: {status['toxiproxy_api']}\ndown with: kafka-chaos cluster down {handle.run_id}",
    )


def _levels(pairs: dict[str, str]) -> dict[str, int]:
    """Feature levels as numbers. Raises UsageError for a level that is not one."""
    levels = {}
    for name, level in pairs.items():
        if not level.isdigit():
            raise UsageError(f"feature {name}={level}: the level is a whole number, e.g. {name}=1")
        levels[name] = int(level)
    return levels


@cluster.command("status")
@click.argument("run_id", required=False)
@external_options
@json_option
def cluster_status(
    run_id: str | None,
    bootstrap_servers: str | None,
    client_config: Path | None,
    allow_faults_on: str | None,
    ssh_config: Path | None,
    as_json: bool,
) -> None:
    """Show a cluster's nodes, their states, the bootstrap address and whether it is healthy.

    Without RUN_ID: the one running cluster; when several run, each of them as Docker sees it,
    without asking the cluster or checking its health (``--json``: a list). With
    ``--bootstrap-servers``: a team's cluster as it describes itself — its id (what
    ``--allow-faults-on`` takes), brokers, feature levels, and the fault kinds a run may use there.
    """
    target = external_target(bootstrap_servers, client_config, allow_faults_on, ssh_config)
    if target is not None:
        if run_id is not None:
            raise UsageError("give RUN_ID for a cluster the harness started, or --bootstrap-servers for a team's")
        _team_status(target, as_json)
        return
    import docker
    from chaos.cluster import KafkaCluster, running_runs
    from chaos.engine import docker_client

    client = docker_client()
    runs = [run_id] if run_id else running_runs(client)
    if not runs:
        emit([], as_json, "no cluster is running")
        return
    several = len(runs) > 1
    statuses = []
    for r in runs:
        try:
            # several: what Docker knows, quickly, whatever state each is in (one may be mid-fault)
            statuses.append(KafkaCluster.attach(r, client).status(check_health=not several, ask=not several))
        except (UsageError, docker.errors.DockerException):
            if not several:
                raise
            continue  # being removed since it was listed
    if not statuses:
        emit([], as_json, "no cluster is running")
        return
    lines = [f"{len(statuses)} clusters are running; `kafka-chaos cluster status RUN_ID` checks one's health"] * several
    for status in statuses:
        health = "" if several else (" healthy" if status["healthy"] else " NOT healthy")
        lines += [
            f"cluster {status['run_id']} (Kafka {status['kafka_version']}){health}",
            f"bootstrap.servers={status['bootstrap_servers']}",
            f"direct (no proxy): bootstrap.servers={status['direct_bootstrap_servers'] or 'none'}",
        ]
        if "secure_bootstrap_servers" in status:
            lines.append(f"SASL_SSL: bootstrap.servers={status['secure_bootstrap_servers']}")
        lines += [
            f"  {n['host']:14} node {n['node_id']:<5} {n['state']}" for n in status["brokers"] + status["controllers"]
        ]
    emit(statuses if several else statuses[0], as_json, "\n".join(lines))


@cluster.command("logs")
@click.argument("run_id", required=False)
@click.option("--node", "nodes", multiple=True, metavar="HOST", help="Only this node: broker-2, toxiproxy, ...")
@click.option("--tail", type=click.IntRange(min=1), default=None, help="Only the last N lines of each.")
def cluster_logs(run_id: str | None, nodes: tuple[str, ...], tail: int | None) -> None:
    """Print the logs of a running cluster's nodes (every restart included), each under its name."""
    from chaos.cluster import KafkaCluster
    from chaos.engine import docker_client

    handle = KafkaCluster.attach(pick_run(run_id), docker_client())
    for host, text in handle.node_logs(nodes, tail).items():
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
    runs = running_runs(client) if all_runs else [pick_run(run_id)]
    removed: dict[str, Any] = {rid: KafkaCluster.attach(rid, client).destroy().as_dict() for rid in runs}
    emit(removed, as_json, "\n".join(f"removed cluster {rid}" for rid in removed) or "no cluster is running")


@cluster.command("heal")
@click.argument("run_id", required=False)
@json_option
def cluster_heal(run_id: str | None, as_json: bool) -> None:
    """Remove every fault from a running cluster: iptables chains and tc qdiscs in the brokers,
    toxiproxy toxics and disabled proxies; thaw paused brokers, start stopped ones."""
    from chaos.cluster import KafkaCluster
    from chaos.engine import docker_client
    from chaos.faults.by_hand import heal_everything

    report = heal_everything(KafkaCluster.attach(pick_run(run_id), docker_client()))
    emit(
        report.as_dict(),
        as_json,
        f"healed cluster {report.run_id}: iptables chains and tc removed, toxiproxy reset"
        + (f", thawed {', '.join(report.thawed)}" if report.thawed else "")
        + (f", started {', '.join(report.started)}" if report.started else "")
        + (
            f", ended disk failures on {', '.join(report.disks_healed)} and restarted them"
            if report.disks_healed
            else ""
        ),
    )


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

    KIND is one of the broker, disk and network faults of experiment files (broker_kill,
    broker_pause, power_loss, disk_error, isolate, partition, toxic, preferred_election, ...);
    client_kill needs a run's workloads, so it is not one.
    """
    import yaml

    from chaos.cluster import KafkaCluster
    from chaos.engine import docker_client
    from chaos.faults.by_hand import fault_by_hand, hold_fault

    values: dict[str, Any] = {}
    for key, text in parse_pairs(params, "fault parameter").items():
        try:
            values[key] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            values[key] = text
    fault = fault_by_hand(kind, values)  # bad kinds and parameters exit 2 before Docker is touched
    handle = KafkaCluster.attach(pick_run(run_id), docker_client())
    result = hold_fault(handle, fault, duration, seed)
    where = f" on {', '.join(fault.targets)}" if fault.targets else ""
    if not result["healed"]:
        text = f"injected {kind}{where} in {result['inject_ms']:.0f} ms; it stays until "
        text += f"`kafka-chaos cluster heal {handle.run_id}`"
    else:
        text = (
            f"injected {kind}{where} in {result['inject_ms']:.0f} ms, healed after {result['lasted_s']:.1f}s "
            f"in {result['heal_ms']:.0f} ms"
        )
    emit(result, as_json, text)


def _team_status(target: ExternalTarget, as_json: bool) -> None:
    """A team's cluster as it describes itself. Raises UsageError: it did not answer, or the consent
    names another cluster."""
    from chaos.cluster.external import ExternalCluster
    from chaos.faults.backends import external_backend

    cluster = ExternalCluster(target)
    try:
        cluster.start()
        features = cluster.feature_levels()
        hosts = {str(i): {"host": n.name, "state": n.state} for i, n in cluster.hosts.items()}
    finally:
        cluster.close()
    backend = external_backend(cluster.faults_allowed, bool(hosts))
    brokers = {str(b.node_id): f"{b.host}:{b.port}" for b in cluster.remote}
    kinds = sorted(backend.kinds or ())
    status: dict[str, object] = {
        "cluster_id": cluster.cluster_id,
        "bootstrap_servers": target.bootstrap,
        "brokers": brokers,
        "features": features,
        "fault_backend": backend.name,
        "fault_kinds": kinds,
        "hosts": hosts,
    }
    consent = (
        f"faults on the cluster allowed: {', '.join(kinds)}"
        if cluster.faults_allowed
        else f"client faults only; to allow Admin API faults too: --allow-faults-on {cluster.cluster_id}"
    )
    listed = ", ".join(f"{i} at {a}" for i, a in brokers.items())
    reached = "".join(f"\nnode {i} over SSH at {h['host']}: Kafka {h['state']}" for i, h in hosts.items())
    emit(status, as_json, f"cluster {cluster.cluster_id} at {target.bootstrap}\nbrokers: {listed}\n{consent}{reached}")
