"""What a Kafka release knows about its own configuration, asked of the release.

:func:`kafka_configs` reads the ``ConfigDef`` s of the producer, consumer, topic and broker — keys,
types, defaults, validators, importance, documentation — from the jars the Kafka image is built
from, through ``KafkaConfigTool`` (compiled beside the Java client driver). It runs once per release
and is cached beside the driver. :func:`kafka_check` hands settings to the same release and returns
its verdict: Kafka's own message for each bad value (``ConfigDef.validateAll``) and the exception
it throws when it builds the configuration and the client from them (cross-key rules such as
idempotence with ``acks=1``). Nothing in either connects to a cluster.

There is no hand-kept list of keys: what is a key, and what is a valid value, is whatever the
release says.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chaos.errors import InfrastructureError
from chaos.images.java_driver import JavaDriver, build_java_driver
from chaos.progress import Progress, silent

Kind = Literal["producer", "consumer", "topic", "broker"]
KINDS: tuple[Kind, ...] = ("producer", "consumer", "topic", "broker")


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One key of a ``ConfigDef``: its type (``INT``, ``STRING``, ``BOOLEAN`` …), its default as
    Kafka writes it (None: no default), its validator as Kafka prints it, importance and doc."""

    name: str
    type: str
    default: str | None
    has_default: bool
    valid: str | None
    importance: str | None
    internal: bool
    doc: str


@dataclass(frozen=True, slots=True)
class FeatureDef:
    """A production feature of a release: its latest level, and the level a new cluster gets."""

    name: str
    latest: int
    default: int


@dataclass(frozen=True, slots=True)
class KafkaConfigs:
    """The four ``ConfigDef`` s of one Kafka release, and its production features."""

    version: str
    defs: Mapping[str, Mapping[str, ConfigKey]]
    features: Mapping[str, FeatureDef] = field(default_factory=dict)
    #: The release of the producer and consumer definitions, when not ``version`` (:meth:`with_client`).
    client_version: str | None = None

    @property
    def client_release(self) -> str:
        """The release whose producer and consumer definitions these are."""
        return self.client_version or self.version

    def with_client(self, client: KafkaConfigs) -> KafkaConfigs:
        """These broker and topic definitions with ``client``'s producer and consumer ones: a
        cluster of this release and a Java client of ``client``'s."""
        if client.version == self.version:
            return self
        defs = {**self.defs, "producer": client.defs["producer"], "consumer": client.defs["consumer"]}
        return KafkaConfigs(self.version, defs, self.features, client.version)

    def keys(self, kind: str) -> Mapping[str, ConfigKey]:
        """The keys of ``kind`` (producer, consumer, topic or broker)."""
        return self.defs[kind]

    def default(self, kind: str, key: str) -> str | None:
        """The release's default for ``key`` of ``kind`` (None: no default, or no such key)."""
        found = self.defs[kind].get(key)
        return found.default if found is not None else None


@dataclass(frozen=True, slots=True)
class KafkaCheck:
    """Kafka's verdict on one kind's settings: messages per bad key, and the message of the
    exception it threw building the configuration or client (None: it accepted them)."""

    errors: Mapping[str, list[str]]
    refused: str | None


def _driver(version: str, progress: Progress) -> JavaDriver:
    return build_java_driver(version, progress=progress)


def _run(driver: JavaDriver, *args: str, what: str) -> Any:
    """Run the tool and parse its JSON.

    Raises:
        InfrastructureError: the JVM failed (its last words are in the message's notes).
    """
    proc = subprocess.run(driver.tool_command(*args), capture_output=True, text=True, check=False, timeout=120)
    try:
        if proc.returncode == 0:
            return json.loads(proc.stdout)
    except json.JSONDecodeError:
        pass
    err = InfrastructureError(f"Kafka's configuration tool failed while {what} (exit {proc.returncode})")
    err.add_note((proc.stdout[-500:] + proc.stderr[-2000:]).strip())
    raise err


def _parse(version: str, data: Mapping[str, Any]) -> KafkaConfigs:
    defs: dict[str, dict[str, ConfigKey]] = {
        kind: {
            name: ConfigKey(
                name,
                k["type"],
                k.get("default"),
                "default" in k,
                k.get("valid"),
                k.get("importance"),
                bool(k.get("internal")),
                k.get("doc") or "",
            )
            for name, k in data[kind].items()
        }
        for kind in KINDS
    }
    features = {
        name: FeatureDef(name, int(f["latest_production"]), int(f["default"]))
        for name, f in (data.get("features") or {}).items()
    }
    return KafkaConfigs(version, defs, features)


@functools.cache
def kafka_configs(version: str, progress: Progress = silent) -> KafkaConfigs:
    """The ConfigDefs of Kafka ``version``, read from its jars once and cached beside the driver.

    Raises:
        InfrastructureError: no JDK on this machine, or the tool failed.
        UsageError: ``version`` is not a Kafka release.
        ImageBuildError: Maven could not resolve the jars.
    """
    driver = _driver(version, progress)
    cached = driver.classes / "configdefs.json"
    if not cached.is_file():
        progress(f"reading Kafka {version}'s configuration definitions …")
        data = _run(driver, "defs", what=f"reading Kafka {version}'s configuration definitions")
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(cached)
    return _parse(version, json.loads(cached.read_text()))


class _Checker:
    """``KafkaConfigTool serve`` for one release, started on first use and kept for this process:
    a process that reviews many file sets (a test session) pays for one JVM. It ends when this
    process closes its input (at exit, or when this process dies)."""

    def __init__(self, driver: JavaDriver) -> None:
        self._proc = subprocess.Popen(
            driver.tool_command("serve"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        self._lock = threading.Lock()
        atexit.register(self.close)

    def ask(self, request: str) -> str:
        """One answer line, or "" when the JVM has gone."""
        with self._lock:
            if self._proc.poll() is not None or self._proc.stdin is None or self._proc.stdout is None:
                return ""
            try:
                self._proc.stdin.write(request + "\n")
                self._proc.stdin.flush()
                return self._proc.stdout.readline()
            except (BrokenPipeError, OSError):
                return ""

    def close(self) -> None:
        """End the JVM: it holds nothing worth a graceful exit."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


_CHECKERS: dict[str, _Checker] = {}


def start_checking(version: str) -> None:
    """Start Kafka ``version``'s checker now, so its JVM starts while the caller does other work.

    Raises:
        InfrastructureError: no JDK on this machine.
    """
    if version not in _CHECKERS:
        _CHECKERS[version] = _Checker(_driver(version, silent))


def kafka_check(version: str, settings: Mapping[str, Mapping[str, str]]) -> dict[str, KafkaCheck]:
    """Kafka ``version``'s own verdict on ``settings`` (kind → key → value).

    Raises:
        InfrastructureError: no JDK on this machine, or the tool failed.
    """
    request = json.dumps({k: dict(v) for k, v in settings.items()})
    start_checking(version)
    checker = _CHECKERS[version]
    line = checker.ask(request)
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        _CHECKERS.pop(version, None)
        checker.close()
        with tempfile.TemporaryDirectory(prefix="kafka-chaos-check-") as tmp:  # once more, on its own
            path = Path(tmp) / "settings.json"
            path.write_text(request)
            data = _run(_driver(version, silent), "check", str(path), what="checking the settings")
    return {
        kind: KafkaCheck(
            {key: list(dict.fromkeys(msgs)) for key, msgs in answer.get("errors", {}).items()},
            answer.get("refused"),
        )
        for kind, answer in data.items()
    }


def java_properties(version: str, paths: list[Path]) -> dict[str, dict[str, str] | str]:
    """Each file as ``java.util.Properties.load`` reads it (keys → values), or the message of the
    error it raises: the reference the properties reader is tested against.

    Raises:
        InfrastructureError: no JDK on this machine, or the tool failed.
    """
    data = _run(_driver(version, silent), "props", *map(str, paths), what="reading properties files")
    return {path: answer.get("values", answer.get("error", "")) for path, answer in data.items()}
