"""``kafka-chaos clean`` and ``doctor``: remove what runs left behind; say what is missing."""

from __future__ import annotations

import sys

import click

from chaos.cli.common import emit, json_option
from chaos.errors import ChaosError


@click.command()
@click.option("--images", "with_images", is_flag=True, help="Also remove the images the harness built.")
@click.option("--run-id", default=None, help="Only this run's resources (default: every run's).")
@json_option
def clean(with_images: bool, run_id: str | None, as_json: bool) -> None:
    """Remove every container and network runs left behind (all carry kafka-chaos.run), and the
    client files of secure clusters (under the cache)."""
    from chaos.cluster import sweep
    from chaos.engine import docker_client

    result = sweep(docker_client(), run_id, images=with_images)
    text = (
        f"removed {len(result.containers)} containers, {len(result.networks)} networks"
        + (f", {len(result.images)} images" if with_images else "")
        + (f", {len(result.client_files)} secure clusters' client files" if result.client_files else "")
    )
    emit(result.as_dict(), as_json, text)
    if result.failures:
        raise ChaosError("could not remove: " + "; ".join(result.failures))


@click.command()
@json_option
def doctor(as_json: bool) -> None:
    """Say what is present and what to do about what is missing.

    Exit code: 0 everything required is present, 3 something required is missing.
    """
    from chaos import doctor as checks

    found = checks.diagnose()
    emit(checks.as_dict(found), as_json, "\n".join(c.line() for c in found))
    if not checks.healthy(found):
        sys.exit(3)
