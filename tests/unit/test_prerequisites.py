"""What building the images needs, checked before anything is built: every missing tool in one
sentence with the packages that install it, root for debootstrap, and only what is still to build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chaos.errors import ImageBuildError
from chaos.images import recipes
from chaos.images.builder import toxiproxy_binary
from chaos.images.kcfs import kcfs_path
from chaos.images.prerequisites import (
    DEBOOTSTRAP,
    GO,
    JDK,
    MAVEN,
    Outstanding,
    needed,
    outstanding,
    problem,
    require,
)

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = Outstanding(base=True, jars=True, go_programs=True, java_driver=True)


def nothing_installed(command: str) -> str | None:
    return None


def test_every_missing_tool_is_named_in_one_sentence_with_the_packages_that_install_them() -> None:
    with pytest.raises(ImageBuildError) as info:
        require(EVERYTHING, which=nothing_installed)
    assert str(info.value) == (
        "building the images needs debootstrap (the Debian base image), Maven (Kafka's jars from Maven Central), "
        "Go (toxiproxy and kcfs) and a JDK (the Java client driver and Kafka's configuration definitions), which "
        "are not installed: on Debian or Ubuntu, `apt-get install debootstrap maven golang-go default-jdk-headless` "
        "as root"
    )
    one = problem([GO], root_needed=False, which=lambda c: None if c == "go" else f"/usr/bin/{c}")
    assert one == (
        "building the images needs Go (toxiproxy and kcfs), which is not installed: on Debian or Ubuntu, "
        "`apt-get install golang-go` as root"
    )


def test_only_what_is_still_to_build_asks_for_its_tools() -> None:
    assert needed(Outstanding(base=False, jars=False, go_programs=False, java_driver=True)) == [JDK]
    assert needed(EVERYTHING) == [DEBOOTSTRAP, MAVEN, GO, JDK]
    only_go_missing = {"debootstrap", "mvn", "javac"}
    present = Outstanding(base=False, jars=False, go_programs=False, java_driver=True)
    require(present, which=lambda c: f"/usr/bin/{c}" if c in only_go_missing else None)  # Go not needed: no error


def test_the_base_image_asks_for_root_and_says_how() -> None:
    everything_there = lambda c: f"/usr/sbin/{c}"  # noqa: E731
    said = problem([DEBOOTSTRAP], root_needed=True, which=everything_there, is_root=False)
    assert said == (
        "building the Debian base image runs debootstrap, which needs root: "
        'run `kafka-chaos images build` as root (with sudo: sudo -E env "PATH=$PATH" kafka-chaos images build)'
    )
    assert problem([DEBOOTSTRAP], root_needed=True, which=everything_there, is_root=True) is None
    assert problem([GO], root_needed=False, which=everything_there, is_root=False) is None


class Engine:
    """An engine that has exactly the images named."""

    def __init__(self, tags: set[str], cache: Path) -> None:
        self.tags = tags
        self.cache_dir = cache

    def exists(self, tag: str) -> bool:
        return tag in self.tags


def test_what_is_outstanding_follows_the_engine_and_the_cache(tmp_path: Path) -> None:
    version = recipes.DEFAULT_KAFKA_VERSION
    nothing = Engine(set(), tmp_path)
    assert outstanding(nothing, version) == EVERYTHING  # type: ignore[arg-type]
    built = Engine({recipes.kafka_tag(version), recipes.toxiproxy_tag()}, tmp_path)
    for binary in (toxiproxy_binary(tmp_path), kcfs_path(tmp_path)):
        binary.parent.mkdir(parents=True)
        binary.write_bytes(b"")
    libs = tmp_path / f"kafka-{version}" / "libs"
    libs.mkdir(parents=True)
    (libs / f"kafka_2.13-{version}.jar").write_bytes(b"")
    (libs.parent / "pom.xml").write_text(recipes.kafka_pom(version))
    assert outstanding(built, version) == Outstanding(base=False, jars=False, go_programs=False, java_driver=True)  # type: ignore[arg-type]
    # forced: the Kafka image again, on a base the engine lacks (the toxiproxy binary is cached)
    assert outstanding(built, version, force=True).base is True  # type: ignore[arg-type]
    assert outstanding(built, version, force=True).go_programs is False  # type: ignore[arg-type]


def test_no_hint_of_the_package_names_a_file_of_the_repository() -> None:
    # an installed package has no scripts/ or examples/: advice must not send a pip user there
    offending = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "chaos").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"scripts/setup|examples/", line)
    ]
    assert offending == []


def test_every_package_a_hint_installs_is_a_debian_package() -> None:
    packages = {
        word
        for path in (ROOT / "chaos").rglob("*.py")
        for hint in re.findall(r"`apt-get install ([^`]+)`", path.read_text())
        for word in hint.split()
        if "{" not in word  # the sentence built from the tools above, which are in the set
    }
    assert packages >= {"debootstrap", "maven", "golang-go", "default-jdk-headless", "docker.io"}
    apt_cache = shutil.which("apt-cache")
    assert apt_cache, "this test asks Debian's package index (apt-cache), which this machine lacks"
    for package in sorted(packages):
        shown = subprocess.run(
            [apt_cache, "show", "--no-all-versions", package], capture_output=True, text=True, check=False
        )
        assert shown.returncode == 0 and f"Package: {package}" in shown.stdout, f"{package} is not a Debian package"


def test_a_jdk_under_java_home_counts_as_the_build_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.images.prerequisites import find_tool

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "javac").write_text("")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert find_tool("javac") == str(tmp_path / "bin" / "javac")
    assert problem([JDK], root_needed=False) is None
    monkeypatch.delenv("JAVA_HOME")
    assert find_tool("javac") is None and problem([JDK], root_needed=False) is not None
