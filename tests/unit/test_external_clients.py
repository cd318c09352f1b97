"""External clients without a cluster: described in an experiment file or installed as a plugin
(entry point group ``kafka_chaos.clients``), checked at load time, carried in the workload spec
(``tests/integration/test_external_clients.py`` runs the two example drivers on a real one)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from chaos.errors import InfrastructureError, UsageError
from chaos.experiments.loading import load_experiment, load_suite
from chaos.experiments.model import ExperimentFileError
from chaos.experiments.plan import plan_experiment
from chaos.workloads.clients import available_clients, check_client, isolation_level, resolve_settings
from chaos.workloads.external import PLUGIN_GROUP, ExternalClient, installed_clients
from chaos.workloads.spec import ConsumerSpec, ProducerSpec, load_spec, save_spec

#: What the test plugin below describes (a mapping, as a package without kafka-chaos imports gives it).
PLUG = {
    "command": ["/bin/true"],
    "modes": ["async"],
    "strategies": ["after_process"],
    "isolation_level": "read_committed",
}


def plug_factory() -> ExternalClient:
    """An entry point may name a callable that returns the description."""
    return ExternalClient("made", ("/bin/true",), modes=("sync",))


def _entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=PLUGIN_GROUP)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """The entry points importlib.metadata finds, as a list the test fills."""
    entries: list[EntryPoint] = []

    def found(group: str) -> list[EntryPoint]:
        return [e for e in entries if e.group == group]

    monkeypatch.setattr("chaos.workloads.external.entry_points", found)
    return entries


def _write(tmp_path: Path, body: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def _driver(tmp_path: Path) -> Path:
    program = tmp_path / "drivers" / "gox"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


GOX = (
    "  client:\n"
    "    name: gox\n"
    "    command: [drivers/gox, --spec, '{spec}']\n"
    "    modes: [async, sync]\n"
    "    strategies: [after_process]\n"
    "    settings: [acks, linger.ms, session.timeout.ms]\n"
)


# -- files ------------------------------------------------------------------------------------------
def test_a_file_describes_an_external_client_and_its_specs_carry_it(tmp_path: Path) -> None:
    program = _driver(tmp_path)
    path = _write(tmp_path, f"name: x\nproducer:\n  count: 10\n  settings: {{acks: all}}\n{GOX}")
    exp = load_experiment(path)
    assert exp.client == "gox" and exp.producer.client_name == "gox"
    plan = plan_experiment(exp, "r1", tmp_path / "run")
    spec = plan.producers[0]
    assert spec.client == "gox" and spec.external is not None
    assert spec.external.command == (str(program), "--spec", "{spec}")  # found from the file's folder
    assert spec.external.command_for(Path("s.json")) == [str(program), "--spec", "s.json"]
    # the spec a driver reads says how it runs, and reads back the same
    save_spec(spec, tmp_path / "spec.json")
    assert load_spec(tmp_path / "spec.json") == spec
    # --client puts it on a built-in client, whose spec has no description
    on_java = load_experiment(path, "java")
    assert on_java.client == "java" and plan_experiment(on_java, "r1", tmp_path).producers[0].external is None


def _indented(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.splitlines())


@pytest.mark.parametrize(
    ("producer", "consumer", "message"),
    [
        (
            "mode: outbox\ncount: 1\n",
            None,
            "x.yaml:3: producer.mode: the gox client does not offer producer mode outbox (it offers async, sync): "
            "choose another",
        ),
        (
            "count: 1\n",
            "strategy: auto\n",
            "x.yaml:11: consumer.strategy: the gox client does not offer commit strategy auto "
            "(it offers after_process): choose another",
        ),
        (
            "count: 1\nsettings: {buffer.memory: 1000}\n",
            None,
            "x.yaml:4: producer.settings.buffer.memory: producer setting buffer.memory is not one the gox client "
            "honours (acks, linger.ms, session.timeout.ms): remove it, or run this on another client",
        ),
    ],
)
def test_what_an_external_client_does_not_offer_is_refused_naming_it(
    tmp_path: Path, producer: str, consumer: str | None, message: str
) -> None:
    _driver(tmp_path)
    text = f"name: x\nproducer:\n{_indented(producer)}{GOX}"
    if consumer is not None:
        text += f"consumer:\n{_indented(consumer)}{GOX}"
    path = _write(tmp_path, text)
    with pytest.raises(ExperimentFileError) as caught:
        load_experiment(path)
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_command_that_is_not_there_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path = _write(tmp_path, f"name: x\nproducer:\n  count: 10\n{GOX}")
    with pytest.raises(ExperimentFileError) as caught:
        load_experiment(path)
    assert str(caught.value) == (
        f"{path}:6: producer.client.command: the gox client's program {tmp_path / 'drivers' / 'gox'} "
        "is no such file: check the command's path"
    )
    bare = _write(tmp_path, "name: x\nproducer:\n  count: 1\n  client: {name: gox, command: [no-such-program-kc]}\n")
    with pytest.raises(ExperimentFileError, match=r"x\.yaml:4: producer\.client\.command: .* is not on PATH"):
        load_experiment(bare)


@pytest.mark.parametrize(
    ("client", "message"),
    [
        ("{name: java, command: [x]}", "producer.client: java is a built-in client: give the external client"),
        ("{name: gox}", "producer.client.command: is required"),
        ("{name: gox, command: [x], protocol: smoke}", "producer.client.protocol: must be 'lines' or 'ledgers'"),
        ("{name: gox, command: [x], modes: [later]}", "producer.client.modes.0: must be 'fire_and_forget'"),
        ("go", "producer.client: unknown client 'go': use one of kafka-python, librdkafka, java, or describe"),
        ("5", "producer.client: must be a valid string (got 5)"),
    ],
)
def test_a_malformed_description_names_its_line_and_field(tmp_path: Path, client: str, message: str) -> None:
    path = _write(tmp_path, f"name: x\nproducer:\n  count: 1\n  client: {client}\n")
    with pytest.raises(ExperimentFileError) as caught:
        load_experiment(path)
    assert str(caught.value).startswith(f"{path}:4: {message}"), caught.value


def test_settings_of_an_external_client_are_java_names_with_the_harness_s_own_substituted() -> None:
    gox = ExternalClient("gox", ("x",), modes=("async",))
    got = resolve_settings("gox", "producer", {"acks": "all", "client.id": "mine", "linger.ms": 5}, gox)
    assert got.kwargs == {"acks": "all", "linger.ms": "5"} and got.substituted == ["client.id"]
    with pytest.raises(UsageError, match=r"did you mean linger\.ms"):
        resolve_settings("gox", "producer", {"lingr.ms": "5"}, gox)
    reads = ExternalClient("gox", ("x",), isolation_level="read_committed")
    assert isolation_level("gox", {}, reads) == "read_committed"
    assert isolation_level("gox", {"isolation.level": "read_uncommitted"}, reads) == "read_uncommitted"


# -- installed clients --------------------------------------------------------------------------------
def test_an_installed_client_is_found_by_its_entry_point(tmp_path: Path, installed: list[EntryPoint]) -> None:
    installed += [_entry("plug", f"{__name__}:PLUG"), _entry("made", f"{__name__}:plug_factory")]
    assert available_clients() == ("kafka-python", "librdkafka", "java", "made", "plug")
    assert check_client("plug") == "plug"
    assert installed_clients()["made"] == plug_factory()
    # a spec naming it is completed with its description, and refused what it does not offer
    spec = ConsumerSpec("c0", "t", "b", "r", str(tmp_path), group="g", client="plug")
    assert spec.external == ExternalClient("plug", ("/bin/true",), modes=("async",), strategies=("after_process",),
                                           isolation_level="read_committed")  # fmt: skip
    with pytest.raises(UsageError, match="the made client does not offer producer mode async"):
        ProducerSpec("p0", "t", "b", "r", str(tmp_path), client="made")
    # --client NAME and --client all reach it
    path = _write(tmp_path, "name: x\nproducer: {count: 1}\nconsumer: {}\n")
    assert [item.experiment.client for item in load_suite([path], "plug")] == ["plug"]
    with pytest.raises(
        ExperimentFileError, match=r"producer\.mode: the made client does not offer producer mode async"
    ):
        load_suite([path], "all")


def test_an_installed_client_that_cannot_be_loaded_is_said_in_one_sentence(installed: list[EntryPoint]) -> None:
    installed.append(_entry("broken", "kafka_chaos_no_such_module:CLIENT"))
    with pytest.raises(UsageError) as caught:
        check_client("broken")
    assert str(caught.value).startswith(
        "the installed client broken (kafka_chaos.clients: kafka_chaos_no_such_module:CLIENT) cannot be loaded ("
    )
    assert str(caught.value).endswith("): fix or uninstall the package that installs it")
    installed[:] = [_entry("other", f"{__name__}:plug_factory")]  # it describes a client named made
    with pytest.raises(UsageError, match=r"cannot be loaded \(it describes a client named made\)"):
        check_client("other")


def _site(tmp_path: Path) -> Path:
    """A package installed the way pip leaves one: a module and its dist-info with entry_points.txt."""
    site = tmp_path / "site"
    (site / "kc_plug-1.0.dist-info").mkdir(parents=True)
    (site / "kc_plug.py").write_text(f"CLIENT = {PLUG!r}\n")
    (site / "kc_plug-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: kc-plug\nVersion: 1.0\n")
    (site / "kc_plug-1.0.dist-info" / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\nplug = kc_plug:CLIENT\n")
    return site


def test_run_takes_an_installed_client_s_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nproducer: {mode: sync, count: 1}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_site(tmp_path)), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "run", str(path), "--client", "plug", "--reports", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "x.yaml:2: producer.mode: the plug client does not offer producer mode sync (it offers async)" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()


# -- building -----------------------------------------------------------------------------------------
def test_a_build_that_fails_stops_the_run_with_its_output(tmp_path: Path) -> None:
    said: list[str] = []
    fails = ExternalClient("gox", ("x",), build=("/bin/sh", "-c", "echo missing go.sum; exit 7"))
    with pytest.raises(InfrastructureError) as caught:
        fails.build_now(said.append)
    assert str(caught.value) == "building the gox client failed (/bin/sh -c echo missing go.sum; exit 7 exited 7): " \
        "see its output below"  # fmt: skip
    assert caught.value.__notes__ == ["missing go.sum"]
    assert said == ["building the gox client: /bin/sh -c echo missing go.sum; exit 7"]
    ExternalClient("gox", ("x",)).build_now(said.append)  # nothing to build: nothing said
    assert len(said) == 1


def test_reports_name_an_external_client_described_in_the_file() -> None:
    from chaos.reports.words import settings_line

    described = {"name": "franz-go", "command": ["/x/run", "{spec}"], "modes": ["async"]}
    line = settings_line({"producer": {"mode": "async", "client": described}, "consumer": {"client": "kafkajs"}})
    assert line.startswith("producer async on franz-go, ") and "consumer after_process on kafkajs" in line
