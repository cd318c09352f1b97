"""What building the images needs on this machine, checked before anything is built.

The images are built here from package registries, never pulled (:mod:`chaos.images.builder`), so an
installed kafka-chaos needs the tools that turn those packages into images: debootstrap (as root)
for the Debian base, Maven for Kafka's jars, Go for toxiproxy and kcfs, and a JDK for the Java
client driver and for reading a release's configuration definitions. Only what is still to be built
is asked for: a machine whose images are present needs no debootstrap, and one whose jars are cached
needs no Maven. All that is missing is named in one sentence, before minutes of building end in the
first missing tool.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import ImageBuildError
from chaos.images import recipes
from chaos.images.builder import ImageBuilder, jars_cached, toxiproxy_binary
from chaos.images.kcfs import kcfs_path


@dataclass(frozen=True, slots=True)
class Tool:
    """A program the build runs: looked up on ``PATH`` as ``command``, installed from ``package``."""

    command: str
    name: str
    package: str
    purpose: str


DEBOOTSTRAP = Tool("debootstrap", "debootstrap", "debootstrap", "the Debian base image")
MAVEN = Tool("mvn", "Maven", "maven", "Kafka's jars from Maven Central")
GO = Tool("go", "Go", "golang-go", "toxiproxy and kcfs")
JDK = Tool("javac", "a JDK", "default-jdk-headless", "the Java client driver and Kafka's configuration definitions")


@dataclass(frozen=True, slots=True)
class Outstanding:
    """What a build still has to make (each ``True`` part needs its tools)."""

    base: bool
    jars: bool
    go_programs: bool
    java_driver: bool


def find_tool(command: str) -> str | None:
    """Where ``command`` is: a JDK's tools under ``JAVA_HOME`` first (where the build looks for them,
    :func:`chaos.images.java_driver.find_jdk`), everything on ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    if command in ("java", "javac") and home and (Path(home) / "bin" / command).is_file():
        return str(Path(home) / "bin" / command)
    return shutil.which(command)


def outstanding(builder: ImageBuilder, version: str, force: bool = False) -> Outstanding:
    """What ``kafka-chaos images build`` of Kafka ``version`` still has to make with ``builder``
    (``force``: the Kafka and toxiproxy images again, from what the cache holds). The Java client
    driver is always among it: the build checks it is compiled with the JDK that will run it.

    Raises:
        UsageError: ``version`` is not a usable Kafka release number.
    """
    kafka_missing = force or not builder.exists(recipes.kafka_tag(version))
    toxiproxy_missing = force or not builder.exists(recipes.toxiproxy_tag())
    return Outstanding(
        base=kafka_missing and not builder.exists(recipes.base_tag()),
        jars=not jars_cached(builder.cache_dir, version),
        go_programs=(toxiproxy_missing and not toxiproxy_binary(builder.cache_dir).is_file())
        or not kcfs_path(builder.cache_dir).is_file(),
        java_driver=True,
    )


def needed(outstanding: Outstanding) -> list[Tool]:
    """The tools that building ``outstanding`` runs.

    >>> [t.name for t in needed(Outstanding(base=True, jars=False, go_programs=True, java_driver=True))]
    ['debootstrap', 'Go', 'a JDK']
    >>> needed(Outstanding(base=False, jars=False, go_programs=False, java_driver=False))
    []
    """
    parts = (
        (outstanding.base, DEBOOTSTRAP),
        (outstanding.jars, MAVEN),
        (outstanding.go_programs, GO),
        (outstanding.java_driver, JDK),
    )
    return [tool for wanted, tool in parts if wanted]


def problem(
    tools: Sequence[Tool],
    *,
    root_needed: bool,
    which: Callable[[str], str | None] = find_tool,
    is_root: bool | None = None,
) -> str | None:
    """One sentence naming every missing tool of ``tools`` and how to install them all (``None``:
    nothing is missing). Root is a prerequisite too when ``root_needed`` (debootstrap runs as root).

    >>> problem([GO], root_needed=False, which=lambda c: "/usr/bin/go") is None
    True
    """
    missing = [tool for tool in tools if which(tool.command) is None]
    if missing:
        named = [f"{tool.name} ({tool.purpose})" for tool in missing]
        listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + f" and {named[-1]}"
        verb = "is" if len(missing) == 1 else "are"
        packages = " ".join(tool.package for tool in missing)
        return (
            f"building the images needs {listed}, which {verb} not installed: on Debian or Ubuntu, "
            f"`apt-get install {packages}` as root"
        )
    root = os.geteuid() == 0 if is_root is None else is_root
    if root_needed and not root:
        return (
            "building the Debian base image runs debootstrap, which needs root: "
            'run `kafka-chaos images build` as root (with sudo: sudo -E env "PATH=$PATH" kafka-chaos images build)'
        )
    return None


def require(outstanding: Outstanding, which: Callable[[str], str | None] = find_tool) -> None:
    """Check that this machine can build ``outstanding``.

    Raises:
        ImageBuildError: a tool is missing, or the base image is to be built without root; the
            message names all that is missing and how to install it.
    """
    found = problem(needed(outstanding), root_needed=outstanding.base, which=which)
    if found:
        raise ImageBuildError(found)
