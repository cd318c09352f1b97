"""Markdown summaries: what was lost, where, under which fault — readable in a CI log or a PR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.oracle import anomalies
from chaos.oracle.verdict import Availability, Latency, Verdict, Witness
from chaos.reports.series import fault_windows

if TYPE_CHECKING:
    from chaos.reports import RunReport
    from chaos.results import SuiteFile

#: What this reporter writes into a run (and a suite) directory.
FILE = rundir.SUMMARY

STAGES = ("producer", "broker", "consumer")
ICON = {"passed": "PASS", "failed": "FAIL", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}
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


def faults_line(run_dir: Path) -> str:
    """The faults as they happened: kind, targets, duration."""
    parts = []
    for f in fault_windows(run_dir):
        took = f" {f['end'] - f['start']:.1f}s" if f.get("end") else " (never healed)"
        targets = _targets(f.get("targets") or [])
        parts.append(f"{f['kind']}({targets}){took}" if not f.get("error") else f"{f['kind']} FAILED: {f['error']}")
    return "; ".join(parts) or "none"


def resolved_experiment(run: RunReport) -> dict[str, Any]:
    import yaml

    path = run.run_dir / rundir.EXPERIMENT
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def run_markdown(run: RunReport) -> str:
    """The summary of one run."""
    lines = [f"# {run.name}: {ICON[run.status]}", "", *_intro(run)]
    lines += [f"- settings: {settings_line(resolved_experiment(run))}", f"- faults: {faults_line(run.run_dir)}"]
    v = run.verdict
    if v is None:
        lines += ["", f"The run did not complete: {run.error}"]
        return "\n".join(lines) + "\n"
    cluster = v.details.cluster
    lines += [f"- run: `{run.run_dir}` ({run.seconds:.0f} s{f', cluster {cluster}' if cluster else ''})", ""]
    for section in (_loss_table, _causes, _witness, _counts, _anomalies, _availability, _figures, _expectations):
        lines += section(v)
    lines += _examples(v)
    return "\n".join(lines) + "\n"


def _intro(run: RunReport) -> list[str]:
    """The claim and what was expected of the run, as its experiment file says."""
    lines = []
    if run.meta.get("claim"):
        lines += [f"Claim **{run.meta['claim']}**. {run.meta.get('description', '').strip()}", ""]
    if run.meta.get("expected"):
        lines += [f"Expected: {run.meta['expected'].strip()}", ""]
    return lines


def _loss_table(v: Verdict) -> list[str]:
    lines = [] if v.conclusive else ["**Inconclusive: no loss figure.** " + " ".join(v.trust.reasons), ""]
    return [*lines, "| stage | lost |", "|---|---:|", *(f"| {s} | {_loss(v, s)} |" for s in STAGES)]


def _causes(v: Verdict) -> list[str]:
    causes = v.causes.get("broker") or {}
    if not any(causes.values()):
        return []
    lines = ["", "Broker loss by cause: " + ", ".join(f"{k} {n}" for k, n in causes.items() if n)]
    if causes.get("unconfirmed"):
        lines.append(f"({causes['unconfirmed']} of them rest on no acknowledgement: acks=0.)")
    return lines


def _witness(v: Verdict) -> list[str]:
    text = witness_line(v.trust.witness)
    return ["", text] if text else []


def _counts(v: Verdict) -> list[str]:
    counts = v.counts.model_dump()
    return [
        "",
        "| " + " | ".join(counts) + " |",
        "|" + "---:|" * len(counts),
        "| " + " | ".join(str(n) for n in counts.values()) + " |",
    ]


def _anomalies(v: Verdict) -> list[str]:
    rows = (f"| {name} | {n} | {meaning} |" for name, n, meaning in anomaly_rows(v.anomalies))
    return ["", "| anomaly | count | meaning |", "|---|---:|---|", *rows]


def _availability(v: Verdict) -> list[str]:
    rows = availability_rows(v.availability)
    if not rows:
        return []
    head = "| fault | no acks (s) | ack latency p50/p99 ms: before | during | after | heal to full ISR (s) |"
    return ["", head, "|---|---:|---:|---:|---:|---:|", *("| " + " | ".join(r) + " |" for r in rows)]


def _figures(v: Verdict) -> list[str]:
    lines: list[str] = []
    for title, figures in (("transactions", v.transactions), ("consume-transform-produce", v.transform)):
        if figures is not None:
            lines += ["", f"| {title} | |", "|---|---:|", *(f"| {k} | {n} |" for k, n in figures.model_dump().items())]
    return lines


def _expectations(v: Verdict) -> list[str]:
    if not v.expectations:
        return []
    rows = (f"| `{e.name}` | {e.actual} | {'pass' if e.passed else '**FAIL**'} |" for e in v.expectations)
    return ["", "| expectation | actual | result |", "|---|---:|---|", *rows]


def _examples(v: Verdict) -> list[str]:
    examples = {k: xs for k, xs in v.examples.items() if xs}
    if not examples:
        return []
    lines = ["", "Examples (producer, seq, partition, offset):", ""]
    for kind, xs in examples.items():
        shown = ", ".join(
            f"({x.get('producer')}, {x.get('seq')}, {x.get('partition')}, {x.get('offset')})" for x in xs[:3]
        )
        lines.append(f"- {kind}: {shown}")
    return lines


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


def write_run(run: RunReport) -> None:
    """``<run_dir>/summary.md``."""
    (run.run_dir / rundir.SUMMARY).write_text(run_markdown(run))


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


def _loss(verdict: Verdict | None, stage: str) -> str:
    """A stage's loss, or why there is none to show (``-`` for a run without a verdict)."""
    if verdict is None:
        return "-"
    n = getattr(verdict.loss, stage)
    return WITHHELD if n is None else str(n)


def claims_table(runs: list[RunReport]) -> str:
    """The measured claims table: settings, fault, loss by stage, key anomalies, outcome."""
    lines = [
        "| claim | experiment | settings | fault | producer loss | broker loss | consumer loss "
        "| send errors | dup. in log | dup. processed | result |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        v = run.verdict
        lines.append(
            f"| {run.meta.get('claim') or ''} | {run.run_dir.name} | {settings_line(resolved_experiment(run))} "
            f"| {faults_line(run.run_dir)} | {' | '.join(_loss(v, s) for s in STAGES)} "
            f"| {v.counts.send_errors if v else '-'} | {_anomaly(v, 'duplicates_in_log')} "
            f"| {_anomaly(v, 'duplicates_processed')} | {ICON[run.status]} |"
        )
    return "\n".join(lines) + "\n"


def _anomaly(verdict: Verdict | None, name: str) -> str:
    """An anomaly's cases in a table cell (``-`` for a run without a verdict, or one that does not name it)."""
    return "-" if verdict is None or name not in verdict.anomalies else str(verdict.anomalies[name])


def client_of(run: RunReport) -> str:
    """The client a run's workloads ran on (``producer+consumer`` when they differ)."""
    return str(run.meta.get("client") or "kafka-python")


def by_client(runs: list[RunReport]) -> tuple[list[str], dict[str, dict[str, RunReport]]]:
    """The clients of a suite and, per experiment, its run on each (the last one, with repetitions)."""
    clients: list[str] = []
    rows: dict[str, dict[str, RunReport]] = {}
    for run in runs:
        client = client_of(run)
        if client not in clients:
            clients.append(client)
        rows.setdefault(run.name, {})[client] = run
    return clients, rows


def outcome_cell(run: RunReport | None) -> str:
    """One run in a cell: its result and loss by stage (producer/broker/consumer)."""
    if run is None:
        return "-"
    loss = "/".join(_loss(run.verdict, s) for s in STAGES)
    return f"{ICON[run.status]} {loss}"


def clients_table(runs: list[RunReport]) -> str:
    """Experiments down, clients across: result and producer/broker/consumer loss of each (empty
    when the suite ran one client)."""
    clients, rows = by_client(runs)
    if len(clients) < 2:
        return ""
    lines = [
        "Side by side, loss as producer/broker/consumer:",
        "",
        "| claim | experiment | " + " | ".join(clients) + " |",
        "|---|---|" + "---|" * len(clients),
    ]
    for name, row in rows.items():
        claim = next(iter(row.values())).meta.get("claim") or ""
        lines.append(f"| {claim} | {name} | " + " | ".join(outcome_cell(row.get(c)) for c in clients) + " |")
    return "\n".join(lines) + "\n"


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


def suite_markdown(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> str:
    """The summary of a suite: outcome per run, the claims table, repetition rates."""
    from chaos.reports import clusters_line

    passed = sum(r.status == "passed" for r in runs)
    clusters = clusters_line(suite.runs)
    lines = [
        f"# kafka-chaos suite: {passed}/{len(runs)} passed",
        "",
        f"{suite_dir} · {suite.seconds / 60:.1f} min"
        + (f" · {clusters}" if clusters else "")
        + (" · **interrupted**" if suite.interrupted else ""),
        "",
        claims_table(runs),
    ]
    if table := clients_table(runs):
        lines += [table]
    lines += _rates_table(runs)
    for run in runs:
        if run.status != "passed":
            lines.append(f"- {ICON[run.status]} {run.run_dir.name}: {why_not_passed(run)}")
    return "\n".join(lines).rstrip() + "\n"


def why_not_passed(run: RunReport) -> str:
    """The expectations a run failed, each as :meth:`ExpectationResult.sentence` says it, or its error."""
    if run.verdict is None:
        return str(run.error)
    return "; ".join(e.sentence() for e in run.verdict.failed_expectations())


def _rates_table(runs: list[RunReport]) -> list[str]:
    """How often each stage lost records over repetitions (nothing when no experiment repeated)."""
    from chaos.reports import occurrence_rates, rate_cell

    rates = occurrence_rates(runs)
    if not any(entry.runs > 1 for entry in rates.values()):
        return []
    lines = ["How often each stage lost records over repetitions (95% Wilson interval):", ""]
    lines += ["| experiment | runs | passed | producer | broker | consumer |", "|---|---:|---:|---:|---:|---:|"]
    for name, entry in rates.items():
        cells = " | ".join(rate_cell(entry, s) for s in STAGES)
        lines.append(f"| {name} | {entry.runs} | {entry.passed} | {cells} |")
    return [*lines, ""]


def write_suite(suite_dir: Path, runs: list[RunReport], suite: SuiteFile) -> None:
    """``<suite_dir>/summary.md``."""
    (suite_dir / rundir.SUMMARY).write_text(suite_markdown(suite_dir, runs, suite))
