"""Which Kafka releases a run asks for: ``--kafka-version 3.9.1,4.0.x,4.4.0`` or ``all``.

A list names releases exactly (``4.0.2``) or by line (``4.0.x``: the latest patch of 4.0 that Maven
Central lists); ``all`` is the latest patch of every minor line from :data:`OLDEST_LINE` on. The
releases Maven Central lists come from its ``maven-metadata.xml`` of ``kafka_2.13`` — the artifact
the images and the Java client are built from — kept for a day in the cache directory, so a line
resolves the same way all day and works offline once asked; without the network and without a
kept list, a line resolves to the newest release whose jars are already in the cache.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

from chaos.errors import UsageError
from chaos.images.recipes import DEFAULT_KAFKA_VERSION, check_kafka_version, version_key

#: The oldest minor line ``all`` takes: the oldest the claims table is measured on.
OLDEST_LINE = (3, 9)
METADATA_URL = "https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/maven-metadata.xml"
#: How long a fetched list of releases is reused (seconds).
KEEP_FOR = 24 * 3600
_LINE = re.compile(r"^(\d+)\.(\d+)\.x$")
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")

Fetch = Callable[[], str]


def parse_metadata(text: str) -> list[str]:
    """The final releases (X.Y.Z, no ``-rc``) a ``maven-metadata.xml`` lists, oldest first.

    >>> parse_metadata("<metadata><versioning><versions><version>4.0.0</version>"
    ...                "<version>3.9.1</version><version>4.1.0-rc1</version></versions></versioning></metadata>")
    ['3.9.1', '4.0.0']
    """
    root = ET.fromstring(text)
    found = {v.text.strip() for v in root.iter("version") if v.text and _RELEASE.match(v.text.strip())}
    return sorted(found, key=version_key)


def _fetch_metadata() -> str:
    with urllib.request.urlopen(METADATA_URL, timeout=20) as response:
        body: bytes = response.read()
    return body.decode()


def cached_releases(cache_dir: Path) -> list[str]:
    """Releases whose jars are already in the cache (``kafka-<version>/libs``), oldest first."""
    found = []
    for libs in cache_dir.glob("kafka-*/libs"):
        version = libs.parent.name.removeprefix("kafka-")
        if _RELEASE.match(version) and any(libs.glob("kafka-clients-*.jar")):
            found.append(version)
    return sorted(found, key=version_key)


def listed_releases(cache_dir: Path, fetch: Fetch = _fetch_metadata, now: float | None = None) -> list[str]:
    """The releases Maven Central lists, from a list kept for a day, else asked now, else (offline)
    the releases already in the cache.

    Raises:
        UsageError: Maven Central could not be asked and nothing is kept or cached to answer with.
    """
    kept = cache_dir / "kafka-releases.xml"
    now = time.time() if now is None else now
    old = _kept(kept)
    if old and now - kept.stat().st_mtime < KEEP_FOR:
        return old
    try:
        text = fetch()
        releases = parse_metadata(text)
        if not releases:
            raise ValueError("it lists no release")
    except (OSError, ValueError, urllib.error.URLError, ET.ParseError, http.client.HTTPException) as e:
        if old or (old := cached_releases(cache_dir)):
            return old
        raise UsageError(
            f"could not ask Maven Central which Kafka releases exist ({e}): name releases exactly, "
            f"such as {DEFAULT_KAFKA_VERSION},3.9.1"
        ) from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = kept.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(kept)  # whole or not at all
    return releases


def _kept(path: Path) -> list[str]:
    """The releases a kept list names (empty: none kept, or not readable as one)."""
    try:
        return parse_metadata(path.read_text())
    except (OSError, ValueError, ET.ParseError):
        return []


def latest_of_line(line: tuple[int, int], releases: Sequence[str]) -> str | None:
    """The newest release of minor line ``line`` among ``releases`` (None: the line has none).

    >>> latest_of_line((4, 0), ["4.0.0", "4.0.2", "4.1.0"])
    '4.0.2'
    """
    of_line = [r for r in releases if version_key(r)[:2] == line]
    return max(of_line, key=version_key) if of_line else None


def every_line(releases: Sequence[str]) -> list[str]:
    """The latest patch of every minor line from :data:`OLDEST_LINE` on, oldest line first.

    >>> every_line(["3.8.1", "3.9.0", "3.9.2", "4.0.2", "4.4.0"])
    ['3.9.2', '4.0.2', '4.4.0']
    """
    lines = sorted({version_key(r)[:2] for r in releases if version_key(r)[:2] >= OLDEST_LINE})
    return [found for line in lines if (found := latest_of_line((line[0], line[1]), releases))]


def needs_listing(text: str) -> bool:
    """Whether ``text`` names a release by line or ``all`` (and so needs Maven Central's list).

    >>> needs_listing("3.9.1,4.4.0"), needs_listing("4.0.x"), needs_listing("all")
    (False, True, True)
    """
    parts = [p.strip() for p in text.split(",")]
    return any(p == "all" or _LINE.match(p) for p in parts)


def resolve_versions(text: str, releases: Callable[[], Sequence[str]], option: str = "--kafka-version") -> list[str]:
    """The releases ``text`` names: a comma-separated list of ``X.Y.Z``, ``X.Y.x`` (the latest patch
    of that line) or ``all``; duplicates dropped, in the order given. ``releases`` lists what Maven
    Central has; it is asked only when a line or ``all`` is named.

    Raises:
        UsageError: an empty or malformed part, a line with no release, or ``all`` mixed with others.

    >>> resolve_versions("4.4.0, 4.0.x,3.9.1,4.4.0", lambda: ["3.9.1", "4.0.1", "4.0.2", "4.4.0"])
    ['4.4.0', '4.0.2', '3.9.1']
    """
    parts = [p.strip() for p in text.split(",")]
    if any(not p for p in parts):
        raise UsageError(f"{option} {text!r} has an empty part: give releases separated by commas, like 3.9.1,4.4.0")
    if "all" in parts:
        if len(parts) > 1:
            raise UsageError(f"{option} all already names every line: give `all` alone or a list of releases")
        lines = every_line(releases())
        if not lines:
            raise UsageError(f"{option} all: Maven Central lists no release from 3.9 on; name releases exactly")
        return lines
    listed: list[str] | None = None
    resolved: list[str] = []
    for part in parts:
        version = part
        if m := _LINE.match(part):
            listed = listed if listed is not None else list(releases())
            found = latest_of_line((int(m.group(1)), int(m.group(2))), listed)
            if found is None:
                raise UsageError(
                    f"Maven Central lists no Kafka {part[:-2]} release: pick a line such as 3.9.x or 4.4.x"
                )
            version = found
        version = check_kafka_version(version)
        if version not in resolved:
            resolved.append(version)
    return resolved


def kafka_versions(
    text: str | None, cache_dir: Path | None = None, fetch: Fetch = _fetch_metadata, option: str = "--kafka-version"
) -> list[str]:
    """What ``option`` (``--kafka-version``, ``--client-version``) asks for (empty when not given), resolved.

    Raises:
        UsageError: see :func:`resolve_versions` and :func:`listed_releases`.
    """
    if not text:
        return []
    from chaos.images.builder import default_cache_dir

    cache = cache_dir or default_cache_dir()
    return resolve_versions(text, lambda: listed_releases(cache, fetch), option)
