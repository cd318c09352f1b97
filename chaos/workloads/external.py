"""External clients: a driver program in any language that follows the driver protocol of
``docs/clients.md``, described where it is used instead of registered in the harness.

A description names the client, the command that runs a workload spec, the protocol it speaks
(``lines``: JSON events on stdout that the harness turns into ledgers, :mod:`chaos.workloads.lines`;
``ledgers``: it writes the binary ledgers itself, as the Java driver does), the producer modes and
commit strategies it offers, and optionally the Java-named settings it honours, the isolation level
its consumer reads with by default, and a command that builds it. It comes from an experiment file
(``client: {name: …, command: […]}``) or from an installed package, as an entry point of the group
:data:`PLUGIN_GROUP` whose object is a description, a mapping of the same keys, or a callable
returning either.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from chaos.errors import InfrastructureError, UsageError
from chaos.workloads.java_settings import java_consumer_settings, java_producer_settings
from chaos.workloads.jsonvalue import JsonObject
from chaos.workloads.names import BUILT_IN_CLIENTS, COMMIT_STRATEGIES, PRODUCER_MODES
from chaos.workloads.settings import ClientSettings

#: The entry point group installed packages register their clients under.
PLUGIN_GROUP = "kafka_chaos.clients"
#: Where the spec's path goes in a command (appended when no argument names it).
SPEC = "{spec}"
PROTOCOLS = ("lines", "ledgers")
ISOLATION_LEVELS = ("read_uncommitted", "read_committed")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
#: How long a client's build may take (a first build fetches its dependencies).
BUILD_TIMEOUT_S = 1800


@dataclass(frozen=True, slots=True)
class ExternalClient:
    """How to run one external client and what it offers (see the module docstring).

    ``settings``: the Java-named keys its driver honours (None: every key the Java client has is
    passed through as it is). ``isolation_level``: what its consumer reads with when the settings
    name none. ``transform``: it can be a consume-transform-produce member.

    Raises:
        UsageError: a malformed name, an empty command, an unknown protocol, mode, strategy or
            isolation level.

    >>> ExternalClient("franz-go", ("drivers/franz-go", "--spec", "{spec}")).command_for(Path("p.json"))
    ['drivers/franz-go', '--spec', 'p.json']
    """

    name: str
    command: tuple[str, ...]
    protocol: str = "lines"
    modes: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    settings: tuple[str, ...] | None = None
    isolation_level: str = "read_uncommitted"
    transform: bool = False
    build: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(
                f"client name {self.name!r} must be lower-case letters, digits, '-', '_' or '.', "
                "starting with a letter or digit"
            )
        if self.name in BUILT_IN_CLIENTS:
            raise UsageError(f"{self.name} is a built-in client: give the external client another name")
        if not self.command or not all(self.command):
            raise UsageError(f"the {self.name} client's command must name a program to run")
        _one_of(self.name, "protocol", [self.protocol], PROTOCOLS)
        _one_of(self.name, "modes", self.modes, PRODUCER_MODES)
        _one_of(self.name, "strategies", self.strategies, COMMIT_STRATEGIES)
        _one_of(self.name, "isolation_level", [self.isolation_level], ISOLATION_LEVELS)

    def command_for(self, spec_path: Path) -> list[str]:
        """The command line that runs the workload of ``spec_path``."""
        args = [arg.replace(SPEC, str(spec_path)) for arg in self.command]
        return args if any(SPEC in arg for arg in self.command) else [*args, str(spec_path)]

    def anchored(self, base: Path) -> ExternalClient:
        """The description with a relative program path (one with a ``/``; a bare name is looked up
        on ``PATH``) in ``command`` and ``build`` resolved against ``base``."""

        def at(command: tuple[str, ...]) -> tuple[str, ...]:
            if not command or "/" not in command[0] or Path(command[0]).is_absolute():
                return command
            return (str((base / command[0]).resolve()), *command[1:])

        return _replace(self, command=at(self.command), build=at(self.build))

    def check_program(self) -> None:
        """Raises UsageError, in one sentence, when the command's program is not there to run."""
        program = self.command[0]
        found = Path(program).is_file() if "/" in program else shutil.which(program) is not None
        if not found:
            where = "no such file" if "/" in program else "not on PATH"
            raise UsageError(f"the {self.name} client's program {program} is {where}: check the command's path")

    def offers(self, role: str, choice: str, output_topic: str | None = None) -> None:
        """Raises UsageError, naming the client, when it does not offer producer mode or commit
        strategy ``choice`` for ``role``, or cannot be a consume-transform-produce member."""
        offered = self.modes if role == "producer" else self.strategies
        what = "producer mode" if role == "producer" else "commit strategy"
        if choice not in offered:
            listed = f"it offers {', '.join(offered)}" if offered else f"it declares no {what}s"
            raise UsageError(f"the {self.name} client does not offer {what} {choice} ({listed}): choose another")
        if output_topic is not None and not self.transform:
            raise UsageError(
                f"the {self.name} client cannot be a consume-transform-produce member (transform: false): "
                "remove output_topic, or choose another client"
            )

    def resolve(self, role: str, props: Mapping[str, object]) -> ClientSettings:
        """``props`` as the driver receives them: Java names passed through as they are (refused as for
        the Java client when it has no such key), the harness's own substituted.

        Raises:
            UsageError: a key the Java client does not have, or one the description does not list.
        """
        resolved = java_producer_settings(props) if role == "producer" else java_consumer_settings(props)
        if self.settings is not None:
            for key in resolved.given:
                if key not in self.settings:
                    raise UsageError(
                        f"{role} setting {key} is not one the {self.name} client honours "
                        f"({', '.join(self.settings)}): remove it, or run this on another client"
                    )
        return resolved

    def build_now(self, progress: Callable[[str], None]) -> None:
        """Run the description's build command, if any (a no-op build is the driver's own business).

        Raises:
            InfrastructureError: it could not run, failed or took longer than :data:`BUILD_TIMEOUT_S`.
        """
        if not self.build:
            return
        progress(f"building the {self.name} client: {' '.join(self.build)}")
        try:
            proc = subprocess.run(self.build, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise InfrastructureError(f"the {self.name} client could not be built ({e}): check its build") from e
        if proc.returncode != 0:
            error = InfrastructureError(
                f"building the {self.name} client failed ({' '.join(self.build)} exited {proc.returncode}): "
                "see its output below"
            )
            error.add_note("\n".join((proc.stdout + proc.stderr).splitlines()[-30:]))
            raise error

    def to_json(self) -> JsonObject:
        """The description as JSON (what a workload spec carries)."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: object) -> ExternalClient:
        """A description from JSON or a plugin's mapping.

        Raises:
            UsageError: not a mapping, an unknown key, a value of the wrong type, or as the constructor.
        """
        if not isinstance(raw, Mapping):
            raise UsageError(f"a client description must be a mapping, not {type(raw).__name__}")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise UsageError(f"unknown key {unknown[0]} in the description of client {raw.get('name')!r}")
        values = dict(raw)
        for key in ("command", "modes", "strategies", "build", "settings"):
            if key in values and not (key == "settings" and values[key] is None):
                values[key] = _strings(values.get("name"), key, values[key])
        for key, kind in (("name", str), ("protocol", str), ("isolation_level", str), ("transform", bool)):
            if key in values and not isinstance(values[key], kind):
                raise UsageError(f"{key} of client {raw.get('name')!r} must be a {kind.__name__}")
        return cls(**values)


def _replace(client: ExternalClient, **changes: tuple[str, ...]) -> ExternalClient:
    return ExternalClient(**{**asdict(client), **changes})


def _strings(name: object, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{key} of client {name!r} must be a list of strings")
    return tuple(value)


def _one_of(name: str, key: str, values: tuple[str, ...] | list[str], allowed: tuple[str, ...]) -> None:
    for value in values:
        if value not in allowed:
            raise UsageError(f"{key} of client {name}: {value!r} is not one of {', '.join(allowed)}")


def _load(entry: EntryPoint) -> ExternalClient:
    """The client an entry point describes.

    Raises:
        UsageError: it cannot be imported, or does not give a description named as the entry point.
    """
    try:
        found: object = entry.load()
        if callable(found) and not isinstance(found, ExternalClient | Mapping):
            found = found()
        if isinstance(found, Mapping):
            found = ExternalClient.from_json({"name": entry.name, **found})
        if not isinstance(found, ExternalClient):
            raise UsageError(f"it gives a {type(found).__name__}, not a client description")
        client = found
        if client.name != entry.name:
            raise UsageError(f"it describes a client named {client.name}")
    except Exception as e:  # a plugin's import may fail in any way: said in one sentence
        raise UsageError(
            f"the installed client {entry.name} ({PLUGIN_GROUP}: {entry.value}) cannot be loaded ({e}): "
            "fix or uninstall the package that installs it"
        ) from e
    return client


def installed_clients() -> dict[str, ExternalClient]:
    """The clients installed packages register under :data:`PLUGIN_GROUP`, by name.

    Raises:
        UsageError: one of them cannot be loaded.
    """
    return {entry.name: _load(entry) for entry in entry_points(group=PLUGIN_GROUP)}


def installed_client(name: str) -> ExternalClient | None:
    """The installed client called ``name``, or None.

    Raises:
        UsageError: it is installed but cannot be loaded.
    """
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name == name:
            return _load(entry)
    return None


def installed_names() -> list[str]:
    """The names of the installed clients, without loading them."""
    return sorted({entry.name for entry in entry_points(group=PLUGIN_GROUP)})
