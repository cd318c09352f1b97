"""Loading experiment files: YAML parsed into the typed models of :mod:`.model`, with every mistake
reported as one sentence naming the file, the line and the field (exit code 2, nothing started).

Hostile input gets the same treatment as a typo: a file over 1 MiB, nesting deeper than
:data:`~.yaml_file.MAX_DEPTH`, an anchor used inside itself (a recursive alias) or aliases that
expand past :data:`~.yaml_file.MAX_NODES` nodes ("billion laughs") are refused before the models
see them (:mod:`.yaml_file`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from chaos.cluster.config import ClientPath
from chaos.errors import UsageError
from chaos.experiments.app_model import ApplicationModel, MissingPath
from chaos.experiments.cluster_model import as_properties
from chaos.experiments.model import (
    CLIENT_TAGS,
    CONSUMER_METRICS,
    MEMBER_METRICS,
    ConsumerModel,
    Experiment,
    ExperimentFileError,
    ProducerModel,
    fault_params,
)
from chaos.experiments.schedule_model import RandomFaultsModel
from chaos.experiments.yaml_file import Lines, load_yaml, pydantic_message
from chaos.faults.targets import expand_targets
from chaos.oracle.expectations import parse_expectation


@dataclass(frozen=True, slots=True)
class LoadedExperiment:
    """An experiment and the file it came from; ``label`` names its run directory (the experiment's
    name, with the client after a dot when one suite runs the same file on several clients)."""

    path: Path
    experiment: Experiment
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.experiment.name)


def _check_semantics(exp: Experiment, lines: Lines, path_given: bool = False) -> None:
    """Everything that can be checked without Docker, beyond the types (``path_given``: the client
    path came from the command line, not the file).

    Raises:
        ExperimentFileError: the first mistake, naming its line.
    """
    _check_workloads(exp, lines)
    _check_faults(exp, lines)
    if exp.random_faults is not None:
        _check_random_faults(exp, exp.random_faults, lines)
    if exp.client_path == "direct":
        _check_direct_path(exp, lines, path_given)
    for metric, value in exp.expect.items():
        lines.check(("expect", metric), parse_expectation, metric, value)
        _check_metric_needs(exp, metric, lines)
    if not exp.producer.count and not exp.producer.duration and exp.fault_window() == 0 and exp.phases.settle == 0:
        raise lines.error(("producer",), "an unbounded producer with no faults and no settle phase sends nothing")


def _check_metric_needs(exp: Experiment, metric: str, lines: Lines) -> None:
    """An expectation on consumers needs a consumer or an application; one on assignment changes, a consumer.

    Raises:
        ExperimentFileError: the experiment lacks what the metric is about, naming its line.
    """
    if metric in MEMBER_METRICS and exp.consumer is None:
        raise lines.error(
            ("expect", metric),
            "is about the consumer group's assignment changes, but the experiment has no consumer section",
        )
    if metric in CONSUMER_METRICS and exp.consumer is None and exp.application is None:
        raise lines.error(
            ("expect", metric), "is about consumers, but the experiment has no consumer or application section"
        )


def _check_workloads(exp: Experiment, lines: Lines) -> None:
    """The cluster's shape, the producer's mode and every client setting, for the client that runs it."""
    from chaos.workloads.clients import resolve_settings

    lines.check(("cluster",), exp.cluster.spec)
    if exp.topic.replication_factor > exp.cluster.brokers:
        raise lines.error(
            ("topic", "replication_factor"),
            f"{exp.topic.replication_factor} replicas need as many brokers; the cluster has {exp.cluster.brokers}",
        )
    c = exp.consumer
    sections: list[tuple[str, ProducerModel | ConsumerModel, str, str, str | None]] = [
        ("producer", exp.producer, "mode", exp.producer.mode, None)
    ]
    if c is not None:
        sections.append(("consumer", c, "strategy", c.strategy, c.output_topic))
    for role, section, what, choice, output_topic in sections:
        external = lines.check((role, "client"), section.external)
        if external is not None:
            lines.check((role, "client", "command"), external.check_program)
            lines.check((role, what), external.offers, role, choice, output_topic)
        client, settings = section.client_name, section.settings
        for key, value in settings.items():  # one key at a time, so the error names its line
            lines.check((role, "settings", key), resolve_settings, client, role, as_properties({key: value}), external)
        lines.check((role, "settings"), resolve_settings, client, role, as_properties(settings), external)


def _check_faults(exp: Experiment, lines: Lines) -> None:
    """Each fault step's kind and parameters, the workload a ``client_kill`` names, its times."""
    from chaos.faults.backends import CLIENT_NETWORK_KINDS
    from chaos.faults.base import make_fault

    names = exp.workload_names
    # a repeated soak's periods are its first one again, shifted: checking the first checks them all
    period = len(exp.soak.steps or []) if exp.soak is not None and exp.soak.schedule == "repeat" else None
    for i, step in enumerate(exp.faults[:period]):
        params = fault_params(step, exp.topic_name)
        fault = lines.check(("faults", i), make_fault, step.kind, step.name, **params)
        if "workload" in fault.p:
            wanted = fault.p["workload"]
            # an application runs in the open: only the harness's own workloads have namespaces
            own = step.kind in CLIENT_NETWORK_KINDS
            where = [n for n in names if not (own and n.startswith("application"))]
            if not any(n == wanted or n.split("-", 1)[1] == wanted for n in names):
                raise lines.error(
                    ("faults", i, "workload"),
                    f"no workload {wanted!r} in this experiment: use one of {', '.join(names)}",
                )
            if not any(n == wanted or n.split("-", 1)[1] == wanted for n in where):
                raise lines.error(
                    ("faults", i, "workload"),
                    f"{step.kind} cannot act on {wanted}: an application runs outside any network namespace; "
                    f"use one of {', '.join(where)}",
                )
        if exp.soak is None and (step.at > 3600 or (step.duration or 0) > 3600):
            raise lines.error(("faults", i), "faults start and last at most 3600 s into the window")


def _check_random_faults(exp: Experiment, rf: RandomFaultsModel, lines: Lines) -> None:
    from chaos.faults.base import make_fault
    from chaos.faults.schedule import RANDOM_KINDS

    where = "soak" if exp.soak is not None else "random_faults"  # a soak's schedule is drawn as random faults
    if rf.min_duration > rf.max_duration:
        raise lines.error(("random_faults", "min_duration"), "must not exceed max_duration")
    for j, kind in enumerate(rf.kinds or RANDOM_KINDS):
        spec = expand_targets(kind, exp.topic_name)
        if "kind" not in spec:
            raise lines.error((where, "kinds", j), "each entry needs a kind")
        lines.check((where, "kinds", j), make_fault, spec.pop("kind"), **spec)
    if exp.fault_window() < rf.count * (rf.min_duration + rf.gap):
        raise lines.error(
            ("phases", "fault_window"),
            f"{rf.count} random faults of at least {rf.min_duration} s do not fit in {exp.fault_window()} s",
        )


def _check_direct_path(exp: Experiment, lines: Lines, path_given: bool) -> None:
    """Refuse a fault that acts on the proxied client path in a run whose clients bypass the proxy:
    it would be injected and verified, yet reach no client, and the verdict would credit the
    settings with surviving a fault they never met."""
    from chaos.faults.base import proxy_kinds
    from chaos.faults.schedule import RANDOM_KINDS

    on_proxy = proxy_kinds()
    if path_given:
        why, fix = "--client-path direct", "remove it, or run without --client-path direct"
    else:
        why, fix = "client_path: direct", "remove it, or set client_path: proxy"
    for i, step in enumerate(exp.faults):
        if step.kind in on_proxy:
            raise lines.error(
                ("faults", i, "kind"), f"{step.kind} acts on the proxied client path, which {why} bypasses: {fix}"
            )
    rf = exp.random_faults
    for j, kind in enumerate((rf.kinds or RANDOM_KINDS) if rf is not None else ()):
        name = str(kind.get("kind", ""))
        if name in on_proxy and rf is not None and rf.kinds:
            raise lines.error(
                ("random_faults", "kinds", j, "kind"),
                f"{name} acts on the proxied client path, which {why} bypasses: {fix}",
            )
        if name in on_proxy:
            raise lines.error(
                ("random_faults",),
                f"the default kinds include {name}, which acts on the proxied client path that {why} "
                f"bypasses: list kinds without {' or '.join(on_proxy)}",
            )


def load_experiment(
    path: Path,
    client: str | None = None,
    client_path: ClientPath | None = None,
    soak: Mapping[str, object] | None = None,
) -> Experiment:
    """Parse and check one experiment file, its workloads on ``client`` and its clients on
    ``client_path`` (None: the file's own); ``soak``: run as a soak with these ``soak:`` keys
    (:func:`soaked`).

    Raises:
        ExperimentFileError: unreadable, not YAML, an unknown key, a wrong type, an unknown client
            setting, fault kind, fault parameter, target or expectation, or a fault on the proxied
            client path with the direct one — naming file, line and field.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.yaml"
    >>> _ = f.write_text("name: x\\nproducer: {rate: -1}\\n")
    >>> try:
    ...     load_experiment(f)
    ... except ExperimentFileError as e:
    ...     print(str(e).split(": ", 1)[1])
    producer.rate: must be greater than 0 (got -1)
    """
    path = Path(path)
    data, lines = load_yaml(path)
    if soak is not None:
        data = soaked(data, soak)
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = [part for part in first["loc"] if part not in CLIENT_TAGS]  # a branch of the client's choice
        raise lines.error(loc, pydantic_message(first)) from None
    exp = exp.anchored(path.parent).for_client(client).on_path(client_path)
    _check_semantics(exp, lines, path_given=client_path is not None)
    if exp.application is not None:
        exp = exp.model_copy(update={"application": _check_application(exp, exp.application, lines, path.parent)})
    return exp


def soaked(data: Mapping[str, object], soak: Mapping[str, object]) -> dict[str, object]:
    """A file's data as a soak (``kafka-chaos soak``, docs/soak.md): ``soak`` over its own ``soak:``
    keys. A file with fault steps repeats them every period (``schedule: repeat``) unless told to
    draw; a drawing soak draws from the file's ``soak.kinds``, else its fault steps (each alone,
    without its timing), else its random faults' kinds, else the default ones. Its producer runs for
    the soak's duration, and its fault window is the soak's."""
    out = dict(data)
    own = out.get("soak")
    merged = {**(own if isinstance(own, dict) else {}), **soak}
    raw = out.pop("faults", None)
    steps = [step for step in raw if isinstance(step, dict)] if isinstance(raw, list) else []
    random = out.pop("random_faults", None)
    merged.setdefault("schedule", "repeat" if steps and "kinds" not in merged else "draw")
    if merged["schedule"] == "repeat":
        merged.setdefault("steps", steps)
    elif "kinds" not in merged:
        drawn = [{k: v for k, v in step.items() if k not in ("at", "duration", "name")} for step in steps]
        if not drawn and isinstance(random, dict) and random.get("kinds"):
            drawn = random["kinds"]
        if drawn:
            merged["kinds"] = drawn
    out["soak"] = merged
    for section, keys in (("producer", ("count", "duration")), ("phases", ("fault_window",))):
        if isinstance(part := out.get(section), dict):
            out[section] = {k: v for k, v in part.items() if k not in keys}
    return out


def _check_application(exp: Experiment, app: ApplicationModel, lines: Lines, base: Path) -> ApplicationModel:
    """The application section against the rest of the file (:meth:`ApplicationModel.conflict`);
    returns it with its paths made the file folder's (:meth:`ApplicationModel.with_paths`).

    Raises:
        ExperimentFileError: the first conflict, or a command or file that does not exist.
    """
    output = exp.consumer.output_topic if exp.consumer is not None else None
    client = exp.producer.client if isinstance(exp.producer.client, str) else exp.producer.client.name
    found = app.conflict(client, exp.producer.mode, exp.topic_name, exp.topic.config, output)
    if found is not None:
        raise lines.error(*found)
    try:
        return app.with_paths(base)
    except MissingPath as e:
        raise lines.error(("application", *e.loc), str(e)) from None


def experiment_files(paths: Iterable[Path]) -> list[Path]:
    """The experiment files named by ``paths`` (files, or directories searched for ``*.yaml``/``*.yml``).

    Raises:
        ExperimentFileError: a path does not exist, or a directory holds no experiment file.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ExperimentFileError(f"{p}: no such file or directory: check the path")
        found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p]
        if not found:
            raise ExperimentFileError(f"{p}: no *.yaml experiment files in this directory")
        files.extend(found)
    return files


def _or_none(values: Sequence[str]) -> list[str | None]:
    return [*values] if values else [None]


def load_suite(
    paths: Iterable[Path],
    client: str | None = None,
    client_path: ClientPath | None = None,
    releases: Sequence[str] = (),
    client_versions: Sequence[str] = (),
    soak: Mapping[str, object] | None = None,
) -> list[LoadedExperiment]:
    """Load every experiment named by ``paths``; all are checked before any runs.

    ``client`` puts every workload on that client, a built-in or an installed one (``all``: each
    experiment once per client, installed ones too, one after the other, labelled
    ``<name>.<client>``); None keeps each file's own. ``client_path`` puts every run's clients on
    that path; None keeps each file's own. ``releases``: each experiment once per Kafka release
    (labelled ``<name>@<release>`` when more than one); ``client_versions``: once per release of the
    Java client (``…@clients-<release>`` when more than one), for an experiment with a Java workload.
    ``soak``: each as a soak with these ``soak:`` keys (:func:`soaked`).

    Raises:
        ExperimentFileError: see :func:`load_experiment`; also two experiments with the same name.
        UsageError: an unknown client name.
    """
    from chaos.workloads.clients import available_clients

    clients: list[str | None] = [None]
    if client == "all":
        clients = list(available_clients())
    elif client is not None:
        if client not in available_clients():
            raise UsageError(f"unknown client {client!r}: use one of {', '.join(available_clients())}, or all")
        clients = [client]
    several_releases, several_clients = len(releases) > 1, len(client_versions) > 1
    loaded: list[LoadedExperiment] = []
    names: dict[str, Path] = {}
    for path in experiment_files(paths):
        for c in clients:
            exp = load_experiment(path, c, client_path, soak)
            if exp.name in names and c == clients[0]:
                raise ExperimentFileError(
                    f"{path}:1: name: {exp.name!r} is also the name of {names[exp.name]}: rename one"
                )
            names[exp.name] = path
            if releases and exp.cluster.kafka_image:
                raise ExperimentFileError(f"{path}: cluster.kafka_image pins one image: drop it to run other releases")
            label = f"{exp.name}.{c}" if len(clients) > 1 else exp.name
            java = "java" in (exp.producer.client_name, exp.consumer.client_name if exp.consumer else "")
            for v in _or_none(releases):  # the Java client's releases only where a workload runs on it
                for w in _or_none(client_versions) if java else [None]:
                    suffix = (f"@{v}" if several_releases else "") + (f"@clients-{w}" if several_clients and w else "")
                    loaded.append(LoadedExperiment(path, exp.on_release(v, w), label + suffix))
    return loaded
