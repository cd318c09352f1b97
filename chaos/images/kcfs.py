"""kcfs, the brokers' data disk that can lose power and fail (the Go package ``chaos/images/kcfs/``).

A static Go binary, built once here from the Go module proxy and cached per source hash in
``<cache>/kcfs-<hash>/kcfs``, then copied into each broker container of a cluster whose ``disk`` is
``kcfs`` (no image rebuild: it runs on any Kafka image started as root).

Why a filesystem of its own rather than an existing one: what the faults need is a disk that keeps
every write (a plain SIGKILL must lose nothing, as on a real machine) yet can, on command, put every
file back as of its last fsync; LazyFS, Jepsen's filesystem for this, is a C++ project outside the
registries this machine reaches. kcfs is a loopback filesystem on ``go-fuse``'s own loopback nodes
with an undo record of un-fsynced changes; see the source for its exact model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from chaos.errors import ImageBuildError, InfrastructureError
from chaos.images.builder import default_cache_dir
from chaos.progress import Progress, silent

#: Where the binary, its control socket and its mount point are inside a broker container: the
#: cluster's start.sh mounts kcfs at these paths (a unit test holds the two to each other).
BINARY = "/kafka-chaos/kcfs"
SOCKET = "/run/kcfs.sock"
MOUNT = "/var/lib/kafka"
NO_GO = "building kcfs, the power-loss disk, needs Go, which is not installed: `apt-get install golang-go` as root"


def kcfs_container_options() -> dict[str, list[str]]:
    """What a broker container needs, besides its own options, to mount kcfs: the FUSE device and the
    right to mount. AppArmor's default Docker profile forbids mounts, so the container runs
    unconfined by it (a no-op where AppArmor is off)."""
    return {
        "cap_add": ["SYS_ADMIN"],
        "devices": ["/dev/fuse:/dev/fuse:rwm"],
        "security_opt": ["apparmor=unconfined"],
    }


def no_fuse(error: Exception) -> InfrastructureError | None:
    """The sentence for a broker container that could not start because the engine has no
    ``/dev/fuse`` to give it (``None`` for any other failure)."""
    if "/dev/fuse" not in str(error):
        return None
    return InfrastructureError(
        "this Docker engine cannot give containers /dev/fuse, which `disk: kcfs` needs: load the FUSE module "
        "on the engine's host (`modprobe fuse`), or run without `disk: kcfs`"
    )


def sources() -> list[str]:
    """The files ``go build`` reads: every ``.go`` file of the package, ``go.mod`` and ``go.sum``
    (listed from the directory, so a file added to the package is built and hashed too)."""
    names = (entry.name for entry in (resources.files("chaos.images") / "kcfs").iterdir())
    return sorted(name for name in names if name.endswith(".go") or name in ("go.mod", "go.sum"))


def _source(name: str) -> bytes:
    return (resources.files("chaos.images") / "kcfs" / name).read_bytes()


def source_hash() -> str:
    """A hash of kcfs's sources: a changed filesystem is built again."""
    h = hashlib.sha256()
    for name in sources():
        h.update(name.encode() + b"\0" + _source(name))
    return h.hexdigest()[:12]


def kcfs_path(cache_dir: Path | None = None) -> Path:
    """Where this source's kcfs binary is (or will be) in the cache."""
    return (cache_dir or default_cache_dir()) / f"kcfs-{source_hash()}" / "kcfs"


def kcfs_binary(cache_dir: Path | None = None, progress: Progress = silent) -> Path:
    """The built kcfs binary, building it first when this source has not been built here.

    Raises:
        ImageBuildError: Go is missing, the module proxy refused, or the build failed.
    """
    binary = kcfs_path(cache_dir)
    out_dir = binary.parent
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise ImageBuildError(NO_GO)
    progress("building kcfs (go build) …")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kcfs-src-", dir=out_dir.parent) as tmp:
        src = Path(tmp)
        for name in sources():
            (src / name).write_bytes(_source(name))
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-trimpath -mod=mod"}
        built = src / "kcfs"
        try:
            result = subprocess.run(
                [go, "build", "-ldflags=-s -w", "-o", str(built), "."],
                cwd=src,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise ImageBuildError(
                "building kcfs took over 10 minutes: check that the Go module proxy is reachable"
            ) from e
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise ImageBuildError(
                f"building kcfs failed (go build, exit {result.returncode}); check that the Go module proxy is "
                f"reachable:\n{tail}"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), binary)
    return binary
