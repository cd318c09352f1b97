"""The suite's runs side by side: experiments down and, across, a column per client when the suite
ran one Kafka release, per release when it ran one client, per client and release (``java @ 3.9.1``)
when it ran several of both; columns in release order, then in the order the clients first ran. A
cell is the run's outcome and its loss by stage, ``N/A`` for a row that does not apply to its
release, and for a known bug's row whether that release has the bug. Under it, for several releases:
what held, failed or did not apply on each, and the defaults and features that differ between them.
Markdown and HTML render the same :class:`Grid`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.images.recipes import version_key
from chaos.reports.releases import bug_on_release, client_versions, kafka_release, release_facts
from chaos.reports.words import ICON, STAGES, client_of, loss_text

if TYPE_CHECKING:
    from chaos.reports import RunReport

#: How a release a run directory does not name (one from before releases were recorded) is shown.
UNRECORDED = "release not recorded"


@dataclass(frozen=True, slots=True)
class Column:
    """A client on a release: one column of the grid."""

    client: str
    release: str


@dataclass(frozen=True, slots=True)
class Grid:
    """The columns in order, their headers, and per experiment its run in each column (the last of
    its repetitions)."""

    columns: list[Column]
    headers: list[str]
    rows: dict[str, dict[Column, RunReport]]

    def claim(self, name: str) -> str:
        """The claim an experiment's row tests ("" when its file names none)."""
        return str(next(iter(self.rows[name].values())).meta.get("claim") or "")


#: Between the cluster's release and the Java client's, where they differ.
CLIENTS_WORD = " · kafka-clients "


def release_label(meta: Mapping[str, Any]) -> str:
    """The releases a run ran on: the cluster's, and the Java client's where it differs.

    >>> release_label({"kafka_version": "4.4.0", "client_versions": {"kafka-clients": "3.9.1"}})
    '4.4.0 · kafka-clients 3.9.1'
    >>> release_label({"kafka_version": "4.4.0", "client_versions": {"kafka-clients": "4.4.0"}})
    '4.4.0'
    """
    v, w = kafka_release(meta), client_versions(meta).get("kafka-clients")
    return v if not w or w == v or not v else f"{v}{CLIENTS_WORD}{w}"


def column_of(run: RunReport) -> Column:
    """The client and the releases ``run`` ran on ("" for a release its directory does not name)."""
    return Column(client_of(run.meta), release_label(run.meta))


def release_order(release: str) -> tuple[tuple[int, ...], ...]:
    """A release label as it sorts among them (the cluster's release, then the client's); one not
    recorded (or not a release number) first.

    >>> sorted(["4.10.0", "", "3.9.1", "4.4.0 · kafka-clients 4.0.2", "4.4.0 · kafka-clients 3.9.1"], key=release_order)
    ['', '3.9.1', '4.4.0 · kafka-clients 3.9.1', '4.4.0 · kafka-clients 4.0.2', '4.10.0']
    """
    cluster, _, client = release.partition(CLIENTS_WORD)
    try:
        return version_key(cluster), version_key(client or cluster)
    except ValueError:
        return ()


def grid(runs: Sequence[RunReport]) -> Grid:
    """The suite's runs side by side (one column when it ran one client on one release)."""
    found = list(dict.fromkeys(column_of(run) for run in runs))
    clients = list(dict.fromkeys(c.client for c in found))
    columns = sorted(found, key=lambda c: (release_order(c.release), clients.index(c.client)))
    several_releases = len({c.release for c in found}) > 1
    headers = [_header(c, len(clients) > 1, several_releases) for c in columns]
    rows: dict[str, dict[Column, RunReport]] = {}
    for run in runs:
        rows.setdefault(run.name, {})[column_of(run)] = run
    return Grid(columns, headers, rows)


def _header(column: Column, several_clients: bool, several_releases: bool) -> str:
    release = column.release or UNRECORDED
    if several_clients and several_releases:
        return f"{column.client} @ {release}"
    return release if several_releases else column.client


def cell(run: RunReport | None) -> str:
    """One run in a cell: its result and loss as producer/broker/consumer, ``N/A`` when the row did
    not apply to its release, and whether that release has the row's known bug."""
    if run is None:
        return "-"
    status = run.status
    text = ICON[status] if status == "not_applicable" else f"{ICON[status]} {'/'.join(_losses(run))}"
    found = bug_on_release(run.meta)
    return f"{text} · {found.cell()}" if found else text


def _losses(run: RunReport) -> list[str]:
    return [loss_text(run.verdict, stage) for stage in STAGES]


def releases_of(runs: Sequence[RunReport]) -> list[str]:
    """The Kafka releases the runs ran on, in release order."""
    return sorted({release_label(run.meta) for run in runs}, key=release_order)


def per_release(runs: Sequence[RunReport]) -> list[str]:
    """Per release, how many runs held, failed and did not apply (and any that could not complete
    or were inconclusive); nothing when the runs were on one release."""
    releases = releases_of(runs)
    if len(releases) < 2:
        return []
    lines = []
    for release in releases:
        statuses = [run.status for run in runs if release_label(run.meta) == release]
        line = (
            f"Kafka {release or UNRECORDED}: {statuses.count('passed')} held, {statuses.count('failed')} failed, "
            f"{statuses.count('not_applicable')} not applicable"
        )
        for status, words in (("error", "could not complete"), ("inconclusive", "inconclusive")):
            if n := statuses.count(status):
                line += f", {n} {words}"
        lines.append(line)
    return lines


def differing(runs: Sequence[RunReport]) -> list[str]:
    """The features, group protocols and defaults in force whose values differ between the runs'
    releases, one line each (``producer linger.ms: 3.9.1 0 · 4.4.0 5``), from each run's
    ``release``; nothing when the runs were on one release. A feature a release does not finalize
    shows as ``-``; a default is compared among the releases it comes from (a client's defaults are
    its own release's)."""
    if len(releases_of(runs)) < 2:
        return []
    features: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    defaults: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    recorded: set[str] = set()
    for run in runs:
        facts, release = release_facts(run.meta), kafka_release(run.meta)
        if facts is None or not release:
            continue
        recorded.add(release)
        for name, level in facts.features.items():
            features[f"feature {name}"][release].add(str(level))
        features["group protocols"][release].add(", ".join(facts.group_protocols) or "-")
        for d in facts.defaults:
            defaults[f"{d.kind} {d.key}"][d.release].add(d.text)
    for by_release in features.values():
        for release in recorded - set(by_release):
            by_release[release].add("-")
    lines = [_line(key, features[key]) for key in sorted(features) if _differs(features[key])]
    return lines + [_line(key, defaults[key]) for key in sorted(defaults) if _differs(defaults[key])]


def _differs(by_release: dict[str, set[str]]) -> bool:
    return len(by_release) > 1 and len({frozenset(values) for values in by_release.values()}) > 1


def _line(key: str, by_release: dict[str, set[str]]) -> str:
    shown = (f"{r} {'/'.join(sorted(by_release[r]))}" for r in sorted(by_release, key=release_order))
    return f"{key}: " + " · ".join(shown)
