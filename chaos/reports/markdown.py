"""Markdown summaries: what was lost, where, under which fault — readable in a CI log or a PR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos import rundir
from chaos.oracle.expectations import COUNT_FIELDS
from chaos.reports.series import fault_windows

if TYPE_CHECKING:
    from chaos.reports import RunReport

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
    parts = []
    producer = meta_exp.get("producer") or {}
    parts.append(f"producer {producer.get('mode', 'async')} on {producer.get('client', 'kafka-python')}")
    parts += [f"{k}={_value(v)}" for k, v in (producer.get("settings") or {}).items()]
    topic_config = (meta_exp.get("topic") or {}).get("config") or {}
    parts += [f"{k}={_value(v)}" for k, v in topic_config.items()]
    cluster = meta_exp.get("cluster") or {}
    parts += [f"{k}={_value(v)}" for k, v in (cluster.get("broker_config") or {}).items()]
    parts += [f"feature {k}={v}" for k, v in (cluster.get("features") or {}).items()]
    if cluster.get("disk", "plain") != "plain":
        parts.append(f"data on {cluster['disk']}")
    if cluster.get("log_dirs", 1) != 1:
        parts.append(f"{cluster['log_dirs']} log dirs")
    consumer = meta_exp.get("consumer")
    if consumer:
        parts.append(
            f"consumer {consumer.get('strategy', 'after_process')} on {consumer.get('client', 'kafka-python')}"
        )
        parts += [f"{k}={_value(v)}" for k, v in (consumer.get("settings") or {}).items()]
    parts.append(client_path_words(meta_exp))
    return ", ".join(parts)


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
    lines = [f"# {run.name}: {ICON[run.status]}", ""]
    if run.meta.get("claim"):
        lines.append(f"Claim **{run.meta['claim']}**. {run.meta.get('description', '').strip()}")
        lines.append("")
    if run.meta.get("expected"):
        lines += [f"Expected: {run.meta['expected'].strip()}", ""]
    lines += [f"- settings: {settings_line(resolved_experiment(run))}", f"- faults: {faults_line(run.run_dir)}"]
    if run.verdict is None:
        lines += ["", f"The run did not complete: {run.error}"]
        return "\n".join(lines) + "\n"
    v = run.verdict
    cluster = (v.get("details") or {}).get("cluster")
    lines += [f"- run: `{run.run_dir}` ({run.seconds:.0f} s{f', cluster {cluster}' if cluster else ''})", ""]
    trust = v.get("trust") or {}
    if v.get("conclusive") is False:
        lines += ["**Inconclusive: no loss figure.** " + " ".join(trust.get("reasons") or []), ""]
    lines += ["| stage | lost |", "|---|---:|"]
    lines += [f"| {s} | {_loss(v, s)} |" for s in STAGES]
    causes = (v.get("causes") or {}).get("broker") or {}
    if any(causes.values()):
        lines += ["", "Broker loss by cause: " + ", ".join(f"{k} {n}" for k, n in causes.items() if n)]
        if causes.get("unconfirmed"):
            lines.append(f"({causes['unconfirmed']} of them rest on no acknowledgement: acks=0.)")
    if text := witness_line(trust.get("witness")):
        lines += ["", text]
    counts = {k: v["counts"][k] for k in COUNT_FIELDS if k in v["counts"]}
    lines += ["", "| " + " | ".join(counts) + " |", "|" + "---:|" * len(counts)]
    lines.append("| " + " | ".join(str(n) for n in counts.values()) + " |")
    lines += ["", "| anomaly | count |", "|---|---:|"]
    lines += [f"| {k} | {n} |" for k, n in v["anomalies"].items()]
    if rows := availability_rows(v.get("availability") or []):
        lines += [
            "",
            "| fault | no acks (s) | ack latency p50/p99 ms: before | during | after | heal to full ISR (s) |",
        ]
        lines += ["|---|---:|---:|---:|---:|---:|", *("| " + " | ".join(r) + " |" for r in rows)]
    for title, section in (("transactions", "transactions"), ("consume-transform-produce", "transform")):
        if v.get(section):
            lines += ["", f"| {title} | |", "|---|---:|"]
            lines += [f"| {k} | {n} |" for k, n in v[section].items()]
    if v.get("expectations"):
        lines += ["", "| expectation | actual | result |", "|---|---:|---|"]
        lines += [
            f"| `{e['name']}` | {e['actual']} | {'pass' if e['passed'] else '**FAIL**'} |" for e in v["expectations"]
        ]
    examples = {k: xs for k, xs in (v.get("examples") or {}).items() if xs}
    if examples:
        lines += ["", "Examples (producer, seq, partition, offset):", ""]
        for kind, xs in examples.items():
            shown = ", ".join(
                f"({x.get('producer')}, {x.get('seq')}, {x.get('partition')}, {x.get('offset')})" for x in xs[:3]
            )
            lines.append(f"- {kind}: {shown}")
    return "\n".join(lines) + "\n"


def write_run(run: RunReport) -> None:
    """``<run_dir>/summary.md``."""
    (run.run_dir / rundir.SUMMARY).write_text(run_markdown(run))


def witness_line(witness: dict[str, Any] | None) -> str:
    """The second witness's finding in one sentence ("" when it was not asked)."""
    if not witness:
        return ""
    if witness.get("error"):
        return f"Second witness ({witness.get('tool')}) gave no answer: {witness['error']}"
    return (
        f"Second witness ({witness.get('tool')} on every broker's disk): of {witness['checked']} broker-lost "
        f"records checked, {witness['gone_from_every_replica']} are gone from every replica, "
        f"{witness['on_a_disk_not_in_the_log']} are on a disk but not in the log clients read."
    )


def _cell(d: dict[str, Any], k: str) -> str:
    return str(d.get(k, "-"))


def _loss(verdict: dict[str, Any], stage: str) -> str:
    """A stage's loss, or why there is none to show."""
    n = (verdict.get("loss") or {}).get(stage, "-")
    return WITHHELD if n is None else str(n)


def claims_table(runs: list[RunReport]) -> str:
    """The measured claims table: settings, fault, loss by stage, key anomalies, outcome."""
    lines = [
        "| claim | experiment | settings | fault | producer loss | broker loss | consumer loss "
        "| send errors | dup. in log | dup. processed | result |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        v = run.verdict or {}
        counts = v.get("counts") or {}
        anomalies = v.get("anomalies") or {}
        lines.append(
            f"| {run.meta.get('claim') or ''} | {run.run_dir.name} | {settings_line(resolved_experiment(run))} "
            f"| {faults_line(run.run_dir)} | {_loss(v, 'producer')} | {_loss(v, 'broker')} "
            f"| {_loss(v, 'consumer')} | {_cell(counts, 'send_errors')} | {_cell(anomalies, 'duplicates_in_log')} "
            f"| {_cell(anomalies, 'duplicates_processed')} | {ICON[run.status]} |"
        )
    return "\n".join(lines) + "\n"


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
    v = run.verdict or {}
    loss = "/".join(_loss(v, s) if v else "-" for s in STAGES)
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


def availability_rows(figures: list[dict[str, Any]]) -> list[list[str]]:
    """The verdict's availability figures as table cells, a row per fault.

    >>> availability_rows([{"fault": "kill-0", "kind": "broker_kill", "targets": ["broker-1"], "no_ack_s": 6.0,
    ...   "latency_ms": {"before": {"p50": 5.0, "p99": 9.0}, "during": None, "after": None},
    ...   "heal_to_full_isr_s": 3.5}])
    [['kill-0 (broker_kill broker-1)', '6.0', '5/9', '-', '-', '3.5']]
    """

    def lat(p: dict[str, Any] | None) -> str:
        return f"{p['p50']:g}/{p['p99']:g}" if p else "-"

    rows = []
    for f in figures:
        latency = f.get("latency_ms") or {}
        isr = f.get("heal_to_full_isr_s")
        rows.append(
            [
                f"{f['fault']} ({f['kind']} {', '.join(f.get('targets') or [])})".replace(" )", ")"),
                f"{f['no_ack_s']:.1f}" + (" (sends, acks=0)" if f.get("basis") == "send" else ""),
                *(lat(latency.get(k)) for k in ("before", "during", "after")),
                "-" if isr is None else f"{isr:.1f}",
            ]
        )
    return rows


def suite_markdown(suite_dir: Path, runs: list[RunReport], meta: dict[str, Any]) -> str:
    """The summary of a suite: outcome per run, the claims table, repetition rates."""
    from chaos.reports import clusters_line, occurrence_rates, rate_cell

    passed = sum(r.status == "passed" for r in runs)
    clusters = clusters_line(meta)
    lines = [
        f"# kafka-chaos suite: {passed}/{len(runs)} passed",
        "",
        f"{suite_dir} · {float(meta.get('seconds', 0)) / 60:.1f} min"
        + (f" · {clusters}" if clusters else "")
        + (" · **interrupted**" if meta.get("interrupted") else ""),
        "",
        claims_table(runs),
    ]
    if table := clients_table(runs):
        lines += [table]
    rates = occurrence_rates(runs)
    if any(entry["runs"] > 1 for entry in rates.values()):
        lines += ["How often each stage lost records over repetitions (95% Wilson interval):", ""]
        lines += ["| experiment | runs | passed | producer | broker | consumer |", "|---|---:|---:|---:|---:|---:|"]
        for name, entry in rates.items():
            lines.append(
                f"| {name} | {entry['runs']} | {entry['passed']} | "
                + " | ".join(rate_cell(entry, s) for s in STAGES)
                + " |"
            )
        lines.append("")
    failed = [r for r in runs if r.status != "passed"]
    for run in failed:
        v = run.verdict
        why = (
            "; ".join(f"expected {e['name']}, got {e['actual']}" for e in v["expectations"] if not e["passed"])
            if v
            else run.error
        )
        lines.append(f"- {ICON[run.status]} {run.run_dir.name}: {why}")
    return "\n".join(lines).rstrip() + "\n"


def write_suite(suite_dir: Path, runs: list[RunReport], meta: dict[str, Any]) -> None:
    """``<suite_dir>/summary.md``."""
    (suite_dir / rundir.SUMMARY).write_text(suite_markdown(suite_dir, runs, meta))
