"""How every report says a run: its settings, faults, loss by stage, anomalies and availability, in
the same words in Markdown, HTML and JUnit (the reporters import them from here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos import rundir
from chaos.oracle import anomalies
from chaos.oracle.verdict import Availability, Latency, Verdict, Witness
from chaos.reports.series import fault_windows

STAGES = ("producer", "broker", "consumer")
#: A run's status as every report shows it (``not_applicable``: the row did not run on its release).
ICON = {
    "passed": "PASS",
    "failed": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    "error": "ERROR",
    "not_applicable": "N/A",
}
#: Shown instead of a loss figure an inconclusive verdict withholds.
WITHHELD = "n/a (inconclusive)"


#: How the clients of a run reached the brokers, as its reports say it (a run directory from before
#: there was a choice has no ``client_path``: its clients went through toxiproxy).
CLIENT_PATH_WORDS = {"proxy": "clients through toxiproxy", "direct": "clients direct to the brokers (no proxy)"}


def client_path_words(meta_exp: dict[str, Any]) -> str:
    """How the clients reached the brokers, in words, from the resolved experiment.

    >>> client_path_words({"client_path": "direct"}), client_path_words({})
    ('clients direct to the brokers (no proxy)', 'clients through toxiproxy')
    """
    path = str(meta_exp.get("client_path") or "proxy")
    return CLIENT_PATH_WORDS.get(path, f"clients on path {path}")


def settings_line(meta_exp: dict[str, Any]) -> str:
    """The settings that matter for loss, in one line (from the resolved experiment), ending with
    how the clients reached the brokers: a figure measured through the proxy is not one measured
    without it."""
    topic_config = (meta_exp.get("topic") or {}).get("config") or {}
    parts = [
        *_producer_settings(meta_exp.get("producer") or {}),
        *(f"{k}={_value(v)}" for k, v in topic_config.items()),
        *_cluster_settings(meta_exp.get("cluster") or {}),
        *_consumer_settings(meta_exp.get("consumer")),
        client_path_words(meta_exp),
    ]
    return ", ".join(parts)


def _client_name(section: dict[str, Any]) -> str:
    """A section's client by name: an external client is described in the file, a mapping with its name.

    >>> _client_name({"client": {"name": "franz-go", "command": ["run"]}}), _client_name({})
    ('franz-go', 'kafka-python')
    """
    client = section.get("client", "kafka-python")
    return str(client.get("name")) if isinstance(client, dict) else str(client)


def _producer_settings(producer: dict[str, Any]) -> list[str]:
    head = f"producer {producer.get('mode', 'async')} on {_client_name(producer)}"
    return [head, *(f"{k}={_value(v)}" for k, v in (producer.get("settings") or {}).items())]


def _cluster_settings(cluster: dict[str, Any]) -> list[str]:
    parts = [f"{k}={_value(v)}" for k, v in (cluster.get("broker_config") or {}).items()]
    parts += [f"feature {k}={v}" for k, v in (cluster.get("features") or {}).items()]
    if cluster.get("disk", "plain") != "plain":
        parts.append(f"data on {cluster['disk']}")
    if cluster.get("log_dirs", 1) != 1:
        parts.append(f"{cluster['log_dirs']} log dirs")
    return parts


def _consumer_settings(consumer: dict[str, Any] | None) -> list[str]:
    if not consumer:
        return []
    head = f"consumer {consumer.get('strategy', 'after_process')} on {_client_name(consumer)}"
    return [head, *(f"{k}={_value(v)}" for k, v in (consumer.get("settings") or {}).items())]


def _targets(targets: list[str]) -> str:
    """Brokers a fault hit; the sides of a network split with ``vs``."""
    return (" vs " if any(" " in t for t in targets) else ",").join(targets)


def _value(value: object) -> str:
    """A setting as a properties file writes it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


#: Past this many faults (a soak's), the line counts them by kind instead of listing each.
MANY_FAULTS = 12


def faults_line(run_dir: Path) -> str:
    """The faults as they happened: kind, targets, duration; past :data:`MANY_FAULTS`, counted by
    kind (a soak's, whose windows say when each acted)."""
    windows = fault_windows(run_dir)
    if len(windows) > MANY_FAULTS:
        kinds = Counter(str(f["kind"]) for f in windows)
        failed = sum(1 for f in windows if f.get("error"))
        counted = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        return f"{len(windows)} faults: {counted}" + (f"; {failed} FAILED to inject" if failed else "")
    parts = []
    for f in windows:
        took = f" {f['end'] - f['start']:.1f}s" if f.get("end") else " (never healed)"
        targets = _targets(f.get("targets") or [])
        parts.append(f"{f['kind']}({targets}){took}" if not f.get("error") else f"{f['kind']} FAILED: {f['error']}")
    return "; ".join(parts) or "none"


def resolved_experiment(run_dir: Path) -> dict[str, Any]:
    """The experiment as run (the run directory's ``experiment.yaml``; empty when it cannot be read)."""
    import yaml

    path = run_dir / rundir.EXPERIMENT
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def anomaly_rows(counts: dict[str, int]) -> list[tuple[str, int, str]]:
    """Every anomaly of the registry, in its order, with its cases in ``counts`` and what it means;
    then any a verdict names that this version's registry does not (an older or newer verdict).

    >>> anomaly_rows({"duplicates_in_log": 2, "gone": 1})[0]
    ('duplicates_in_log', 2, 'Copies of a record in the log beyond its first.')
    >>> anomaly_rows({"gone": 1})[-1]
    ('gone', 1, '(not in this version of the registry)')
    """
    known = [(a.name, counts.get(a.name, 0), a.meaning) for a in anomalies.ANOMALIES]
    names = {a.name for a in anomalies.ANOMALIES}
    return known + [(k, n, "(not in this version of the registry)") for k, n in counts.items() if k not in names]


def witness_line(witness: Witness | None) -> str:
    """The second witness's finding in one sentence ("" when it was not asked)."""
    if witness is None:
        return ""
    if witness.error:
        return f"Second witness ({witness.tool}) gave no answer: {witness.error}"
    return (
        f"Second witness ({witness.tool} on every broker's disk): of {witness.checked} broker-lost "
        f"records checked, {witness.gone_from_every_replica} are gone from every replica, "
        f"{witness.on_a_disk_not_in_the_log} are on a disk but not in the log clients read."
    )


def loss_text(verdict: Verdict | None, stage: str) -> str:
    """A stage's loss, or why there is none to show (``-`` for a run without a verdict)."""
    if verdict is None:
        return "-"
    n = getattr(verdict.loss, stage)
    return WITHHELD if n is None else str(n)


def client_of(meta: Mapping[str, Any]) -> str:
    """The client a run's workloads ran on, from its ``run.json`` (``producer+consumer`` when they differ).

    >>> client_of({"client": "java"}), client_of({})
    ('java', 'kafka-python')
    """
    return str(meta.get("client") or "kafka-python")


def availability_rows(figures: list[Availability]) -> list[list[str]]:
    """The verdict's availability figures as table cells, a row per fault.

    >>> from chaos.oracle.verdict import Latency
    >>> availability_rows([Availability(fault="kill-0", kind="broker_kill", targets=["broker-1"], injected=0.0,
    ...   healed=1.0, no_ack_s=6.0, latency_ms={"before": Latency(p50=5.0, p99=9.0, records=3), "during": None,
    ...   "after": None}, heal_to_full_isr_s=3.5, basis="ack")])
    [['kill-0 (broker_kill broker-1)', '6.0', '5/9', '-', '-', '3.5']]
    """
    return [_availability_row(f) for f in figures]


def _availability_row(f: Availability) -> list[str]:
    def lat(p: Latency | None) -> str:
        return f"{p.p50:g}/{p.p99:g}" if p else "-"

    targets = ", ".join(str(t) for t in f.targets) if isinstance(f.targets, list) else str(f.targets or "")
    isr = f.heal_to_full_isr_s
    return [
        f"{f.fault} ({f.kind} {targets})".replace(" )", ")"),
        ("-" if f.no_ack_s is None else f"{f.no_ack_s:.1f}") + (" (sends, acks=0)" if f.basis == "send" else ""),
        *(lat(f.latency_ms.get(k)) for k in ("before", "during", "after")),
        "-" if isr is None else f"{isr:.1f}",
    ]
