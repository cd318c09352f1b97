"""``kafka-chaos images``: build and list the images (built locally, never pulled)."""

from __future__ import annotations

import click

from chaos.cli.common import emit, json_option, progress_for, quiet_option
from chaos.errors import UsageError


@click.group()
def images() -> None:
    """Build and list the images (built locally from package registries, never pulled)."""


@images.command("build")
@click.option("--kafka-version", default=None, help="Apache Kafka release (default: the newest 4.x tested).")
@click.option("--force", is_flag=True, help="Rebuild even if the derived tag exists.")
@click.option(
    "--client-only",
    is_flag=True,
    help="Only the Java client of that release (for --client-version): its driver and definitions, no image.",
)
@click.option(
    "--sshd",
    is_flag=True,
    help="Also the Kafka image with an SSH server, whose nodes `cluster up --sshd` starts.",
)
@json_option
@quiet_option
def images_build(
    kafka_version: str | None, force: bool, client_only: bool, sshd: bool, as_json: bool, quiet: bool
) -> None:
    """Build the base, Kafka and toxiproxy images, compile the Java client driver against the same
    Kafka jars, read that release's configuration definitions (for validate) and build kcfs (the
    disk that can lose power); a no-op when their tags (and the built programs) exist. With
    ``--sshd`` also the Kafka image with OpenSSH's server (its packages from the Debian mirror)."""
    from chaos.engine import docker_client
    from chaos.images.builder import ImageBuilder
    from chaos.images.java_driver import build_java_driver
    from chaos.images.kafka_configs import kafka_configs
    from chaos.images.kcfs import kcfs_binary
    from chaos.images.prerequisites import outstanding, require
    from chaos.images.recipes import DEFAULT_KAFKA_VERSION, check_kafka_version

    version = check_kafka_version(kafka_version or DEFAULT_KAFKA_VERSION)
    if client_only and sshd:
        raise UsageError("--client-only builds no image, so not the sshd one either: drop one of the two")
    if client_only:
        progress = progress_for(quiet)
        driver = build_java_driver(version, progress=progress)
        kafka_configs(version, progress)
        emit({"java_driver": str(driver.classes)}, as_json, f"java client driver: {driver.classes}")
        return
    builder = ImageBuilder(docker_client(), progress=progress_for(quiet))
    require(outstanding(builder, version, force))
    refs = builder.build_all(version, force=force)
    driver = build_java_driver(version, builder.cache_dir, builder.progress)
    kafka_configs(version, builder.progress)
    kcfs = kcfs_binary(builder.cache_dir, builder.progress)
    text = f"kafka: {refs.kafka}\ntoxiproxy: {refs.toxiproxy}\njava client driver: {driver.classes}\nkcfs: {kcfs}"
    built = {"kafka": refs.kafka, "toxiproxy": refs.toxiproxy, "java_driver": str(driver.classes), "kcfs": str(kcfs)}
    if sshd:
        built["kafka_sshd"] = builder.build_sshd(version, force=force)
        text += f"\nkafka-sshd: {built['kafka_sshd']}"
    emit(built, as_json, text)


@images.command("list")
@json_option
def images_list(as_json: bool) -> None:
    """List the images the harness built on this engine."""
    from chaos.engine import docker_client
    from chaos.images.builder import built_images

    rows = built_images(docker_client())
    text = "\n".join(f"{r['kind']:10} {r['tag']}  ({r['size_mb']} MB)" for r in rows) or "no images built"
    emit(rows, as_json, text)
