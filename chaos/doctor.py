"""``kafka-chaos doctor``: what is present on this machine, and what to do about what is missing."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chaos.errors import InfrastructureError


@dataclass(frozen=True, slots=True)
class Check:
    """One thing checked: whether it is ``ok``, what was found, and the fix when it is not."""

    check: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def line(self) -> str:
        """One line for a person.

        >>> Check("mvn", False, "missing", "apt-get install maven", required=False).line()
        'missing  mvn                    missing  -> apt-get install maven'
        """
        state = "ok" if self.ok else ("MISSING" if self.required else "missing")
        return f"{state:8} {self.check:22} {self.detail}" + (f"  -> {self.fix}" if self.fix and not self.ok else "")


def _succeeds(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def diagnose() -> list[Check]:
    """Every check: Python, the Docker engine and where clients reach brokers, build tools, optional
    extras (crc32c, a compose), the images. Never raises: what fails is a failed check."""
    from chaos.engine import bind_address, docker_client, published_host
    from chaos.images.builder import ImageBuilder
    from chaos.images.java_driver import find_jdk
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION, base_tag, kafka_tag, toxiproxy_tag

    checks = [Check("python", sys.version_info >= (3, 11), platform.python_version(), "use Python 3.11 or newer")]
    client = None
    try:
        client = docker_client(timeout=10)
        info = client.version()
        checks.append(Check("docker engine", True, f"{info.get('Version')} (API {info.get('ApiVersion')})"))
        host = published_host()
        checks.append(
            Check("published host", True, f"clients reach brokers at {host} (ports bound on {bind_address(host)})")
        )
    except InfrastructureError as e:
        checks.append(Check("docker engine", False, "not reachable", str(e).split(": ", 1)[-1]))
    for tool, fix in [
        ("debootstrap", "apt-get install debootstrap"),
        ("mvn", "apt-get install maven"),
        ("go", "apt-get install golang-go"),
        ("tar", "apt-get install tar"),
    ]:
        path = shutil.which(tool)
        checks.append(Check(f"build tool {tool}", path is not None, path or "missing", fix, required=False))
    try:
        java, _ = find_jdk()
        checks.append(Check("java client (JDK)", True, java, required=False))
    except InfrastructureError:
        fix = "apt-get install default-jdk-headless (only for the java client)"
        checks.append(Check("java client (JDK)", False, "no java and javac", fix, required=False))
    try:
        import confluent_kafka

        checks.append(Check("librdkafka client", True, f"librdkafka {confluent_kafka.libversion()[0]}", required=False))
    except ImportError:
        fix = "pip install confluent-kafka (only for the librdkafka client)"
        checks.append(Check("librdkafka client", False, "confluent-kafka missing", fix, required=False))
    try:
        import crc32c  # noqa: F401 - only its presence matters

        checks.append(Check("crc32c extension", True, "record checksums in C", required=False))
    except ImportError:
        detail = "missing: kafka-python checksums every batch in Python (about a third slower)"
        checks.append(Check("crc32c extension", False, detail, "pip install crc32c", required=False))
    checks.append(_kcfs_check())
    compose = shutil.which("docker-compose") or (
        shutil.which("docker") and _succeeds(["docker", "compose", "version"]) and "docker compose"
    )
    fix = "apt-get install docker-compose (only for docker-compose.yml)"
    checks.append(Check("compose", bool(compose), str(compose or "missing"), fix, required=False))
    for name, tag in [
        ("base image", base_tag()),
        (f"kafka {DEFAULT_KAFKA_VERSION} image", kafka_tag(DEFAULT_KAFKA_VERSION)),
        ("toxiproxy image", toxiproxy_tag()),
    ]:
        present = client is not None and ImageBuilder(client).exists(tag)
        checks.append(
            Check(
                name,
                present,
                tag if present else f"{tag} missing",
                "run `kafka-chaos images build`",
                required=name != "base image",
            )
        )
    return checks


def _kcfs_check() -> Check:
    """Whether clusters with ``disk: kcfs`` (power loss, failing disks) can run here: kcfs built and
    a FUSE device on this machine (where a local engine gives it to containers)."""
    from chaos.images.builder import default_cache_dir
    from chaos.images.kcfs import source_hash

    built = (default_cache_dir() / f"kcfs-{source_hash()}" / "kcfs").is_file()
    fuse = Path("/dev/fuse").exists()
    if built and fuse:
        return Check("kcfs disk (power_loss)", True, "built; /dev/fuse present", required=False)
    detail = "not built" if not built else "no /dev/fuse on this machine"
    fix = "run `kafka-chaos images build`" if not built else "load the FUSE module: `modprobe fuse`"
    return Check("kcfs disk (power_loss)", False, detail, fix, required=False)


def healthy(checks: list[Check]) -> bool:
    """Every required check passed."""
    return all(c.ok for c in checks if c.required)


def as_dict(checks: list[Check]) -> dict[str, Any]:
    """For ``doctor --json``."""
    return {"ok": healthy(checks), "checks": [{**asdict(c), "fix": "" if c.ok else c.fix} for c in checks]}
