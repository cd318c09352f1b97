"""The Java client driver, and the tool that asks a Kafka release about its own configuration
(``KafkaConfigTool``): compiled once per Kafka release against that release's own jars, run in a
JVM on the host.

Why the host: a workload must be an OS process the harness can SIGKILL like a crashing application,
reach the cluster through the same listeners on loopback as the Python clients (toxiproxy's, or the
brokers' own on the direct client path), and write
its ledgers into the run directory. A host JVM does all three exactly as the Python workloads do; a
container would put ``docker kill``, a bind mount and another network path between the fault and the
client. The jars are the ones the Kafka image is built from (``resolve_kafka_jars``), so the client
is the cluster's release; ``javac`` and ``java`` come from the host's JDK.

The compiled driver lives in ``<cache>/java-driver-<version>-<hash>/``; the hash covers the source,
so a changed driver is compiled again and an unchanged one is reused. Its classes are packed into
``driver.jar``, and one run of the driver's ``--train`` mode (a producer and a consumer with no
cluster) leaves an AppCDS archive, ``driver.jsa``, of the classes a workload loads: a workload JVM
maps them instead of parsing and verifying them (1.25 CPU-s to 0.65 per start here). A JVM that
cannot use the archive (another JDK since) starts as it would without it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from chaos.errors import ImageBuildError, InfrastructureError
from chaos.images.builder import default_cache_dir, resolve_kafka_jars
from chaos.progress import Progress, silent

MAIN_CLASS = "KafkaChaosDriver"
#: Prints a release's ConfigDefs and judges settings the way the release does (``chaos.validate``).
CONFIG_TOOL_CLASS = "KafkaConfigTool"
#: The driver's parts that need the JDK only: the spec reader and the ledger writers, which
#: ``tests/unit/test_ledger_golden.py`` compiles alone and holds to the Python writers' bytes.
JDK_ONLY_SOURCES = ("KafkaChaosJson", "KafkaChaosSpec", "KafkaChaosLedger", "KafkaChaosShape")
SOURCES = (
    MAIN_CLASS,
    *JDK_ONLY_SOURCES,
    "KafkaChaosProducer",
    "KafkaChaosOutbox",
    "KafkaChaosConsumer",
    "KafkaChaosTransactions",
    CONFIG_TOOL_CLASS,
)
#: Parts compiled only where the client release has what they use (the driver loads them by name):
#: the share group member needs ``KafkaShareConsumer`` (Kafka 4.1 on).
OPTIONAL_SOURCES = ("KafkaChaosShare",)
#: What the driver logs: warnings, and the group coordinator's joins and rebalances (evidence).
LOG4J2 = """status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p %c{1}: %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.coordinator.name = org.apache.kafka.clients.consumer.internals.ConsumerCoordinator
logger.coordinator.level = info
"""
#: A small heap, one GC thread and the client compiler only, with one thread: three brokers share
#: these cores, and a workload's few thousand records a second need no C2. Measured on a Java C1
#: run: 16.5-17.1 CPU-s of client JVMs with the full tiers, 9.2-10.9 with these.
JVM_OPTIONS = ("-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1")
NO_JDK = (
    "the java client runs Apache Kafka's own client in a JVM on this machine, and {what} is not installed: "
    "install a JDK (on Debian or Ubuntu, `apt-get install default-jdk-headless` as root)"
)


def driver_source(name: str = MAIN_CLASS) -> bytes:
    """The Java source of class ``name`` (one of :data:`SOURCES`), shipped in the package."""
    return (resources.files("chaos.images") / "java" / f"{name}.java").read_bytes()


#: The driver's classes as one jar: AppCDS archives only classes from jars, never from a directory.
JAR = "driver.jar"
#: The AppCDS archive of what a workload loads, made by the driver's ``--train`` run.
ARCHIVE = "driver.jsa"
#: Silence the JVM's note when an archive cannot be used (it then starts without one).
_QUIET_CDS = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")


@dataclass(frozen=True, slots=True)
class JavaDriver:
    """A compiled driver and the jars it runs with."""

    classes: Path
    libs: Path
    java: str

    @property
    def classpath(self) -> str:
        """The driver's jar and the release's jars, as every driver JVM is started with."""
        return f"{self.classes / JAR}{os.pathsep}{self.libs}{os.sep}*"

    def _shared(self) -> tuple[str, ...]:
        archive = self.classes / ARCHIVE
        return (f"-XX:SharedArchiveFile={archive}", *_QUIET_CDS) if archive.is_file() else ()

    def command(self, spec_path: Path) -> list[str]:
        """The command that runs the workload described by ``spec_path``."""
        return [
            self.java,
            *JVM_OPTIONS,
            *self._shared(),
            f"-Dlog4j2.configurationFile={self.classes / 'log4j2.properties'}",
            "-cp",
            self.classpath,
            MAIN_CLASS,
            str(spec_path),
        ]

    def tool_command(self, *args: str) -> list[str]:
        """The command that runs ``KafkaConfigTool`` with ``args`` (quick to start: no JIT tiers)."""
        return [
            self.java,
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            *self._shared(),
            f"-Dlog4j2.configurationFile={self.classes / 'log4j2.properties'}",
            "-cp",
            self.classpath,
            CONFIG_TOOL_CLASS,
            *args,
        ]

    def train(self, progress: Progress = silent) -> None:
        """Make ``driver.jsa`` with one ``--train`` run of the driver (written under a temporary name
        and renamed, so a concurrent build never sees half an archive). A run that fails leaves no
        archive, and workloads start without one; it is said, not raised."""
        tmp = self.classes / f"{ARCHIVE}.{os.getpid()}.tmp"
        cmd = [
            self.java,
            *JVM_OPTIONS,
            f"-XX:ArchiveClassesAtExit={tmp}",
            *_QUIET_CDS,
            f"-Dlog4j2.configurationFile={self.classes / 'log4j2.properties'}",
            "-cp",
            self.classpath,
            MAIN_CLASS,
            "--train",
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode == 0 and tmp.is_file():
                tmp.replace(self.classes / ARCHIVE)
                return
            reason = f"exit {proc.returncode}: {(proc.stdout + proc.stderr).strip()[-300:]}"
        except (OSError, subprocess.TimeoutExpired) as e:
            reason = str(e)
        tmp.unlink(missing_ok=True)
        progress(f"no class archive for the Java client driver ({reason}): its workloads start without one")


def find_jdk() -> tuple[str, str]:
    """``java`` and ``javac`` on this machine (``JAVA_HOME`` first, then ``PATH``).

    Raises:
        InfrastructureError: either is missing (exit code 3), saying how to install a JDK.
    """
    home = os.environ.get("JAVA_HOME")
    found: list[str] = []
    for tool in ("java", "javac"):
        candidate = Path(home) / "bin" / tool if home else None
        path = str(candidate) if candidate and candidate.is_file() else shutil.which(tool)
        if not path:
            raise InfrastructureError(NO_JDK.format(what=f"`{tool}`"))
        found.append(path)
    return found[0], found[1]


def build_java_driver(version: str, cache_dir: Path | None = None, progress: Progress = silent) -> JavaDriver:
    """Compile the driver against Kafka ``version``'s jars (a no-op when it is compiled already).

    Raises:
        InfrastructureError: no JDK on this machine.
        UsageError: ``version`` is not a Kafka release.
        ImageBuildError: Maven could not resolve the jars, or the source did not compile.
    """
    java, javac = find_jdk()
    cache = cache_dir or default_cache_dir()
    libs = resolve_kafka_jars(cache, version, progress)
    sources = {name: driver_source(name) for name in (*SOURCES, *OPTIONAL_SOURCES)}
    digest = hashlib.sha256(b"".join(sources.values()) + LOG4J2.encode() + version.encode()).hexdigest()[:12]
    target = cache / f"java-driver-{version}-{digest}"
    if (target / JAR).is_file():
        return JavaDriver(target, libs, java)
    progress(f"compiling the Java client driver against Kafka {version} …")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="java-driver-", dir=cache) as tmp:
        work = Path(tmp)
        for name, source in sources.items():
            (work / f"{name}.java").write_bytes(source)
        out = work / "classes"
        proc = subprocess.run(
            [
                javac,
                "-nowarn",
                "-XDignore.symbol.file",
                "-d",
                str(out),
                "-cp",
                f"{libs}{os.sep}*",
                *(str(work / f"{name}.java") for name in SOURCES),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            err = ImageBuildError(f"the Java client driver did not compile against Kafka {version}'s jars")
            err.add_note((proc.stdout + proc.stderr)[-3000:])
            raise err
        for name in OPTIONAL_SOURCES:  # against the classes above; left out where it does not compile
            cp = f"{out}{os.pathsep}{libs}{os.sep}*"
            extra = [javac, "-nowarn", "-d", str(out), "-cp", cp, str(work / f"{name}.java")]
            if subprocess.run(extra, capture_output=True, text=True, check=False).returncode != 0:
                progress(f"Kafka {version}'s client has no {name.removeprefix('KafkaChaos').lower()} API: left out")
        (out / "log4j2.properties").write_text(LOG4J2)
        with zipfile.ZipFile(out / JAR, "w") as jar:  # a jar is a zip; no manifest is needed on -cp
            for cls in sorted(out.glob("*.class")):
                jar.write(cls, cls.name)
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)
    driver = JavaDriver(target, libs, java)
    driver.train(progress)  # after the rename: an archive is valid only for the classpath it was made with
    return driver
