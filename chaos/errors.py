"""The harness's one exception root and its families.

Every error the harness raises on purpose derives from :class:`ChaosError` and carries the exit code
the CLI returns for it (see docs/exit-codes.md: 1 expectation failed, 2 usage or input, 3 infrastructure).
Messages are one sentence saying what is wrong and how to fix it; evidence such as broker log tails
is attached with :meth:`BaseException.add_note` so the first line stays short.
"""

from __future__ import annotations


class ChaosError(Exception):
    """Root of every error the harness raises deliberately."""

    exit_code: int = 1


class UsageError(ChaosError):
    """The user asked for something impossible or malformed (exit code 2)."""

    exit_code = 2


class InfrastructureError(ChaosError):
    """Docker, an image or the cluster is not there or not healthy (exit code 3)."""

    exit_code = 3


class DockerUnavailable(InfrastructureError):
    """No Docker engine answers."""


class ImageMissing(InfrastructureError):
    """An image the cluster needs has not been built (or pulled) on this engine."""


class ImageBuildError(InfrastructureError):
    """Building an image from the package registries failed."""


class ClusterUnhealthy(InfrastructureError):
    """The cluster did not become healthy in time, or a node died while starting."""


class Interrupted(BaseException):
    """SIGTERM arrived; raised so that ``finally`` blocks and context managers tear down.

    Derives from :class:`BaseException` like :class:`KeyboardInterrupt`, so ``except Exception``
    in user code does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
