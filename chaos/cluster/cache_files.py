"""Files of a cluster's kept on this machine, outside any run directory, under the cache: one
directory per cluster (``<cache>/<kind>/<run id>``), files readable by their owner only. The
secure listener's client files (:mod:`chaos.cluster.secure`) and the SSH stand-in's keys
(:mod:`chaos.cluster.sshd`) are kept so.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from chaos.errors import UsageError
from chaos.labels import check_run_id


def root(kind: str) -> Path:
    """Where every cluster's directory of ``kind`` is: ``<cache>/<kind>``."""
    from chaos.images.builder import default_cache_dir

    return default_cache_dir() / kind


def run_dir(kind: str, run_id: str) -> Path:
    """Cluster ``run_id``'s directory of ``kind``.

    Raises:
        UsageError: ``run_id`` is not a run id (so it never names a path outside :func:`root`).
    """
    try:
        return root(kind) / check_run_id(run_id)
    except ValueError as e:
        raise UsageError(str(e)) from None


def made(kind: str, run_id: str) -> Path:
    """Cluster ``run_id``'s directory of ``kind``, made (mode 0700) if missing. Raises UsageError, OSError."""
    directory = run_dir(kind, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, created 0600 and never readable by others for a moment (an older
    file of the name is made 0600 too). Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def remove(kind: str, run_id: str | None = None) -> list[str]:
    """Remove cluster ``run_id``'s directory of ``kind`` (every cluster's when ``None``); returns the
    directories removed. Never raises: a directory already gone, or a string no cluster's run id can
    be (none was ever written for it), removes nothing.
    """
    if run_id is None:
        base = root(kind)
        found = sorted(base.iterdir()) if base.is_dir() else []
    else:
        try:
            found = [run_dir(kind, run_id)]
        except UsageError:
            return []
    removed = []
    for directory in found:
        if directory.is_dir():
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(str(directory))
    return removed
