"""What each image is made of, and the tags derived from it (pure: no Docker, no network).

A tag is ``<name>:<version>-<hash>`` where the hash covers every input of the recipe (package lists,
Dockerfile, POM template, versions, the base it stands on). The same inputs give the same tag, so a
second ``images build`` finds the tag present and does nothing; a changed recipe gives a new tag.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources

from chaos.errors import UsageError

DEFAULT_KAFKA_VERSION = "4.4.0"
#: Oldest line tested here; combined-mode KRaft with static voters works from 3.7 on.
MIN_KAFKA_VERSION = (3, 7, 0)
TOXIPROXY_VERSION = "v2.5.0"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"

DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("openjdk-17-jre-headless", "iproute2", "iptables", "procps")

REPOSITORY = "kafka-chaos"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def recipe_file(name: str) -> bytes:
    """Bytes of one file of the image recipes shipped in the package."""
    return (resources.files("chaos.images") / "recipe" / name).read_bytes()


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:12]


def version_key(version: str) -> tuple[int, ...]:
    """A release number as a tuple that sorts the way releases do.

    >>> sorted(["4.10.0", "4.4.0", "3.9.1"], key=version_key)
    ['3.9.1', '4.4.0', '4.10.0']
    """
    return tuple(int(part) for part in version.split("."))


def check_kafka_version(version: str) -> str:
    """Return ``version`` if it names a Kafka release this harness can run.

    Raises:
        UsageError: not of the form X.Y.Z, or older than the oldest supported line.

    >>> check_kafka_version("3.9.1")
    '3.9.1'
    """
    m = _VERSION.match(version)
    if not m:
        raise UsageError(
            f"Kafka version {version!r} is not a release number: give one such as {DEFAULT_KAFKA_VERSION} or 3.9.1"
        )
    if tuple(int(g) for g in m.groups()) < MIN_KAFKA_VERSION:
        oldest = ".".join(map(str, MIN_KAFKA_VERSION))
        raise UsageError(
            f"Kafka {version} is too old for this harness (KRaft clusters need {oldest} or newer): "
            f"pick {DEFAULT_KAFKA_VERSION} or a 3.9.x release"
        )
    return version


def base_tag() -> str:
    """Tag of the Debian base image (Java, iproute2, iptables, procps)."""
    # The mirror is deliberately not hashed: the same suite and packages from any mirror is the same base.
    h = _digest("base/1", DEBIAN_SUITE, "minbase", *DEBIAN_PACKAGES)
    return f"{REPOSITORY}/base:{DEBIAN_SUITE}-{h}"


def kafka_tag(version: str) -> str:
    """Tag of the Kafka image for ``version``; changes whenever the base or the recipe changes.

    Raises:
        UsageError: ``version`` is not a usable Kafka release number.
    """
    check_kafka_version(version)
    h = _digest(
        "kafka/1",
        version,
        base_tag(),
        recipe_file("pom.xml.template"),
        recipe_file("kafka.Dockerfile"),
        recipe_file("train-cds.sh"),
    )
    return f"{REPOSITORY}/kafka:{version}-{h}"


def sshd_tag(version: str) -> str:
    """Tag of the Kafka image for ``version`` with OpenSSH's server (``ClusterSpec.sshd``); changes
    whenever the Kafka image's tag or this recipe changes.

    Raises:
        UsageError: ``version`` is not a usable Kafka release number.
    """
    h = _digest("kafka-sshd/1", kafka_tag(version), recipe_file("kafka-sshd.Dockerfile"))
    return f"{REPOSITORY}/kafka-sshd:{version}-{h}"


def toxiproxy_tag() -> str:
    """Tag of the toxiproxy server image."""
    h = _digest("toxiproxy/1", TOXIPROXY_MODULE, TOXIPROXY_VERSION, recipe_file("toxiproxy.Dockerfile"))
    return f"{REPOSITORY}/toxiproxy:{TOXIPROXY_VERSION.lstrip('v')}-{h}"


def kafka_pom(version: str) -> str:
    """The Maven POM that resolves the jars of Kafka ``version``."""
    return recipe_file("pom.xml.template").decode().replace("@KAFKA_VERSION@", check_kafka_version(version))


@dataclass(frozen=True, slots=True)
class ImageRefs:
    """The images one cluster runs: a broker image and a toxiproxy image."""

    kafka: str
    toxiproxy: str


def image_refs(
    kafka_version: str = DEFAULT_KAFKA_VERSION,
    kafka_image: str | None = None,
    toxiproxy_image: str | None = None,
) -> ImageRefs:
    """The images to run: the locally built tags, unless the user names others.

    ``KAFKA_CHAOS_KAFKA_IMAGE`` and ``KAFKA_CHAOS_TOXIPROXY_IMAGE`` name others too (e.g.
    ``apache/kafka:4.1.0`` and ``ghcr.io/shopify/toxiproxy:2.12.0`` where a registry is reachable).
    """
    return ImageRefs(
        kafka=kafka_image or os.environ.get("KAFKA_CHAOS_KAFKA_IMAGE") or kafka_tag(kafka_version),
        toxiproxy=toxiproxy_image or os.environ.get("KAFKA_CHAOS_TOXIPROXY_IMAGE") or toxiproxy_tag(),
    )
