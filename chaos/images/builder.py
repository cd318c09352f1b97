"""Build the images from package registries only: Debian (debootstrap), Maven Central, Go modules.

Nothing is pulled from an image registry. Each build first looks for its derived tag (see
:mod:`chaos.images.recipes`) and returns at once when it is present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from docker.errors import APIError, BuildError, ImageNotFound

import docker
from chaos.errors import ImageBuildError, UsageError
from chaos.images import recipes
from chaos.labels import IMAGE_LABEL, RECIPE_LABEL
from chaos.progress import Progress, silent

DEBIAN_MIRROR = "http://deb.debian.org/debian"


def default_cache_dir() -> Path:
    """Where build inputs (Maven output, the toxiproxy binary) are kept between builds."""
    if os.environ.get("KAFKA_CHAOS_CACHE"):
        return Path(os.environ["KAFKA_CHAOS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kafka-chaos"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(cmd: list[str], what: str, fix: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise ImageBuildError(f"{what} needs `{cmd[0]}`, which is not installed: {fix}") from e
    if proc.returncode != 0:
        err = ImageBuildError(f"{what} failed (`{' '.join(cmd[:3])} …` exited {proc.returncode}): {fix}")
        err.add_note(_tail(proc.stdout + "\n" + proc.stderr))
        raise err
    return proc.stdout


def jars_cached(cache_dir: Path, version: str) -> bool:
    """Whether Kafka ``version``'s jars are in the cache, resolved by the POM of this recipe.

    Raises:
        UsageError: ``version`` is not a usable Kafka release number.
    """
    workdir = cache_dir / f"kafka-{version}"
    libs, stamp = workdir / "libs", workdir / "pom.xml"
    pom = recipes.kafka_pom(version)
    return libs.is_dir() and stamp.is_file() and stamp.read_text() == pom and any(libs.glob("kafka_2.13-*.jar"))


def toxiproxy_binary(cache_dir: Path) -> Path:
    """Where the toxiproxy server built by ``go install`` is kept between builds."""
    return cache_dir / f"toxiproxy-{recipes.TOXIPROXY_VERSION}" / "server"


def resolve_kafka_jars(cache_dir: Path, version: str, progress: Progress = silent) -> Path:
    """Resolve Kafka ``version``'s jars from Maven Central into the cache; return the libs dir.

    The same jars make the Kafka image and run the Java client driver on the host.

    Raises:
        UsageError: Maven Central has no such Kafka release.
        ImageBuildError: Maven is missing or failed for another reason.
    """
    workdir = cache_dir / f"kafka-{version}"
    libs = workdir / "libs"
    pom = recipes.kafka_pom(version)
    stamp = workdir / "pom.xml"
    if jars_cached(cache_dir, version):
        return libs
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stamp.write_text(pom)
    progress(f"resolving Apache Kafka {version} jars from Maven Central …")
    try:
        _run(
            ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs", "-DincludeScope=runtime"],
            f"resolving Kafka {version} with Maven",
            "install Maven (`apt-get install maven`) and check that Maven Central is reachable",
            cwd=workdir,
        )
    except ImageBuildError as e:
        detail = "\n".join(getattr(e, "__notes__", []))
        shutil.rmtree(workdir, ignore_errors=True)
        if "kafka_2.13" in detail and (
            "Could not find artifact" in detail or "could not be resolved" in detail or "was not found" in detail
        ):
            raise UsageError(
                f"Kafka {version} is not a release on Maven Central: pick a released version such as "
                f"{recipes.DEFAULT_KAFKA_VERSION} or 3.9.1"
            ) from e
        raise
    return libs


class ImageBuilder:
    """Builds (or finds) the base, Kafka, Kafka-with-sshd and toxiproxy images on one Docker engine.

    Example::

        refs = ImageBuilder(docker_client()).build_all("4.4.0")
    """

    def __init__(self, client: docker.DockerClient, cache_dir: Path | None = None, progress: Progress = silent):
        self.client = client
        self.cache_dir = cache_dir or default_cache_dir()
        self.progress = progress

    def exists(self, tag: str) -> bool:
        """Whether the engine has an image under ``tag``."""
        try:
            self.client.images.get(tag)
        except ImageNotFound:
            return False
        return True

    def build_all(self, kafka_version: str = recipes.DEFAULT_KAFKA_VERSION, force: bool = False) -> recipes.ImageRefs:
        """Build whatever of base, Kafka ``kafka_version`` and toxiproxy is missing.

        Raises:
            UsageError: ``kafka_version`` is malformed or not a release on Maven Central.
            ImageBuildError: a tool is missing or a registry refused; the message says which.
        """
        recipes.check_kafka_version(kafka_version)
        kafka = self.build_kafka(kafka_version, force)
        toxiproxy = self.build_toxiproxy(force)
        return recipes.ImageRefs(kafka=kafka, toxiproxy=toxiproxy)

    # -- base -----------------------------------------------------------------------------------
    def build_base(self, force: bool = False) -> str:
        """Debootstrap a minimal bookworm with Java 17 and import it as an image.

        Raises:
            ImageBuildError: not root, no debootstrap, or the Debian mirror failed.
        """
        tag = recipes.base_tag()
        if not force and self.exists(tag):
            self.progress(f"base image {tag} present")
            return tag
        if os.geteuid() != 0:
            raise ImageBuildError("building the base image runs debootstrap, which needs root: run it with sudo")
        mirror = os.environ.get("KAFKA_CHAOS_DEBIAN_MIRROR", DEBIAN_MIRROR)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="base-", dir=self.cache_dir) as tmp:
            rootfs = Path(tmp) / "rootfs"
            self.progress(f"debootstrap {recipes.DEBIAN_SUITE} with {', '.join(recipes.DEBIAN_PACKAGES)} …")
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(recipes.DEBIAN_PACKAGES)}",
                    recipes.DEBIAN_SUITE,
                    str(rootfs),
                    mirror,
                ],
                "debootstrap of the base image",
                "install it with `apt-get install debootstrap` and check the Debian mirror is reachable",
            )
            # Package caches and docs are a third of the tree and nothing at run time reads them.
            for junk in (
                "var/cache/apt/archives",
                "var/lib/apt/lists",
                "usr/share/doc",
                "usr/share/man",
                "usr/share/locale",
                "usr/share/info",
            ):
                shutil.rmtree(rootfs / junk, ignore_errors=True)
            tarball = Path(tmp) / "rootfs.tar"
            _run(
                ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
                "packing the base rootfs",
                "check free disk space",
            )
            self.progress(f"importing {tag} …")
            repo, _, version = tag.partition(":")
            try:
                self.client.api.import_image_from_file(
                    str(tarball),
                    repository=repo,
                    tag=version,
                    changes=[
                        f"LABEL {IMAGE_LABEL}=base {RECIPE_LABEL}={tag}",
                        "ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 LANG=C.UTF-8",
                    ],
                )
            except APIError as e:
                raise ImageBuildError(f"docker import of the base image failed: {e.explanation}") from e
        return tag

    # -- kafka ----------------------------------------------------------------------------------
    def resolve_kafka_jars(self, version: str) -> Path:
        """Resolve Kafka ``version``'s jars from Maven Central into the cache; return the libs dir.

        Raises:
            UsageError: Maven Central has no such Kafka release.
            ImageBuildError: Maven is missing or failed for another reason.
        """
        return resolve_kafka_jars(self.cache_dir, version, self.progress)

    def build_kafka(self, version: str = recipes.DEFAULT_KAFKA_VERSION, force: bool = False) -> str:
        """Build the Kafka image for ``version`` on top of the base.

        Raises:
            UsageError: ``version`` is malformed or not on Maven Central.
            ImageBuildError: the base, Maven or the Docker build failed.
        """
        tag = recipes.kafka_tag(version)
        if not force and self.exists(tag):
            self.progress(f"kafka image {tag} present")
            return self._alias(tag)
        libs = self.resolve_kafka_jars(version)
        base = self.build_base()
        with tempfile.TemporaryDirectory(prefix="kafka-ctx-", dir=self.cache_dir) as tmp:
            ctx = Path(tmp)
            shutil.copytree(libs, ctx / "libs")
            (ctx / "Dockerfile").write_bytes(recipes.recipe_file("kafka.Dockerfile"))
            (ctx / "train-cds.sh").write_bytes(recipes.recipe_file("train-cds.sh"))
            self._docker_build(ctx, tag, {"BASE": base}, "kafka")
        return self._alias(tag)

    # -- kafka with sshd -------------------------------------------------------------------------
    def build_sshd(self, version: str = recipes.DEFAULT_KAFKA_VERSION, force: bool = False) -> str:
        """Build the Kafka image for ``version`` with OpenSSH's server on top (``ClusterSpec.sshd``),
        building the Kafka image first when it is missing. Its packages come from the Debian mirror
        the base image was made from.

        Raises:
            UsageError: ``version`` is malformed or not on Maven Central.
            ImageBuildError: the Kafka image, the Debian mirror or the Docker build failed.
        """
        tag = recipes.sshd_tag(version)
        if not force and self.exists(tag):
            self.progress(f"kafka-sshd image {tag} present")
            return self._alias(tag)
        kafka = self.build_kafka(version)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kafka-sshd-ctx-", dir=self.cache_dir) as tmp:
            ctx = Path(tmp)
            (ctx / "Dockerfile").write_bytes(recipes.recipe_file("kafka-sshd.Dockerfile"))
            self._docker_build(ctx, tag, {"KAFKA": kafka}, "kafka-sshd")
        return self._alias(tag)

    # -- toxiproxy ------------------------------------------------------------------------------
    def build_toxiproxy(self, force: bool = False) -> str:
        """Build toxiproxy's server from the Go module proxy into a ``FROM scratch`` image.

        Raises:
            ImageBuildError: Go is missing, the module proxy refused, or the Docker build failed.
        """
        tag = recipes.toxiproxy_tag()
        if not force and self.exists(tag):
            self.progress(f"toxiproxy image {tag} present")
            return self._alias(tag)
        binary = toxiproxy_binary(self.cache_dir)
        gobin = binary.parent
        if not binary.is_file():
            self.progress(f"go install toxiproxy {recipes.TOXIPROXY_VERSION} …")
            env = {**os.environ, "CGO_ENABLED": "0", "GOBIN": str(gobin), "GOFLAGS": "-trimpath"}
            _run(
                ["go", "install", "-ldflags=-s -w", f"{recipes.TOXIPROXY_MODULE}@{recipes.TOXIPROXY_VERSION}"],
                "building the toxiproxy server",
                "install Go (`apt-get install golang-go`) and check that the Go module proxy is reachable",
                env=env,
            )
        with tempfile.TemporaryDirectory(prefix="toxiproxy-ctx-", dir=self.cache_dir) as tmp:
            ctx = Path(tmp)
            shutil.copy2(binary, ctx / "toxiproxy")
            (ctx / "Dockerfile").write_bytes(recipes.recipe_file("toxiproxy.Dockerfile"))
            self._docker_build(ctx, tag, {}, "toxiproxy")
        return self._alias(tag)

    def _alias(self, tag: str) -> str:
        """Also tag ``name:version-hash`` as ``name:version`` (what docker-compose.yml names); return ``tag``."""
        repo, _, versioned = tag.partition(":")
        self.client.images.get(tag).tag(repo, versioned.rsplit("-", 1)[0])
        return tag

    def _docker_build(self, ctx: Path, tag: str, buildargs: dict[str, str], kind: str) -> None:
        self.progress(f"docker build {tag} …")
        try:
            self.client.images.build(
                path=str(ctx),
                tag=tag,
                buildargs=buildargs,
                pull=False,
                rm=True,
                forcerm=True,
                labels={IMAGE_LABEL: kind, RECIPE_LABEL: tag},
            )
        except BuildError as e:
            err = ImageBuildError(f"docker build of {tag} failed: {e.msg}")
            err.add_note(_tail("".join(str(chunk.get("stream", "")) for chunk in e.build_log)))
            raise err from e
        except APIError as e:
            raise ImageBuildError(f"docker build of {tag} failed: {e.explanation}") from e


def missing_images(client: docker.DockerClient, refs: recipes.ImageRefs) -> list[str]:
    """Which of ``refs`` the engine does not have."""
    builder = ImageBuilder(client)
    return [ref for ref in (refs.kafka, refs.toxiproxy) if not builder.exists(ref)]


def built_images(client: docker.DockerClient) -> list[dict[str, Any]]:
    """Every image the harness built on this engine: tag, kind (base, kafka, kafka-sshd, toxiproxy), size in MB."""
    rows = []
    for image in client.images.list(filters={"label": [IMAGE_LABEL]}):
        rows += [
            {
                "tag": tag,
                "kind": image.labels.get(IMAGE_LABEL, ""),
                "size_mb": round((image.attrs.get("Size") or 0) / 1e6),
            }
            for tag in image.tags
        ]
    return sorted(rows, key=lambda r: str(r["tag"]))


def ensure_kafka_images(versions: list[str], progress: Progress = silent) -> list[str]:
    """Build the Kafka image of each release in ``versions`` that this engine lacks (and the base
    and toxiproxy images, when missing); returns the releases built now. A release's image is
    built once and kept, as the images command builds them.

    Raises:
        UsageError: a release is not on Maven Central.
        ImageBuildError: a tool is missing or a registry refused; the message says which.
        InfrastructureError: no Docker engine answers.
    """
    from chaos.engine import docker_client

    builder = ImageBuilder(docker_client(), progress=progress)
    built = []
    for version in versions:
        if not builder.exists(recipes.kafka_tag(version)):
            progress(f"building the Kafka {version} image (once; kept for later runs) …")
            builder.build_all(version)
            built.append(version)
    return built
