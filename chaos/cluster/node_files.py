"""The files the harness copies into every node before it starts: its start script, logging
configuration and ``server.properties``, as one tar archive for ``put_archive``."""

from __future__ import annotations

import io
import tarfile
import time
from importlib import resources

#: Files copied in that are programs, not scripts.
EXECUTABLES = frozenset({"kcfs", "kafka-ctl"})


def packaged(name: str) -> bytes:
    """A file shipped in ``chaos/cluster/files``."""
    return (resources.files("chaos.cluster") / "files" / name).read_bytes()


def tar_dir(directory: str, files: dict[str, bytes]) -> bytes:
    """``files`` under ``directory`` as an uncompressed tar archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(directory)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{directory}/{name}")
            info.size, info.mode, info.mtime = (
                len(data),
                0o755 if name.endswith(".sh") or name in EXECUTABLES else 0o644,
                int(time.time()),
            )
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
