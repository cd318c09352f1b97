"""What the plugin keeps out of a run it is a guest in: the third-party warnings of its own calls,
and, when asked, the tests whose clusters no Docker engine could start."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

import pytest

T = TypeVar("T")

#: Modules whose DeprecationWarnings the plugin's own calls keep from the run: kafka-python (3.0
#: reads its protocol schemas through importlib.resources' legacy API: about 200 warnings when it
#: is imported), that API itself, which names its own module for half of them, and the Docker clients.
THIRD_PARTY = r"(kafka|importlib\.resources|docker|testcontainers)(\.|$)"

#: Where no Docker engine answered, or None when one did: asked once a session.
ENGINE_KEY = pytest.StashKey[str | None]()


@contextmanager
def own_calls() -> Iterator[None]:
    """Around a call of the plugin into kafka-chaos: the DeprecationWarnings of :data:`THIRD_PARTY`
    are ignored while it lasts, also under ``-W error::DeprecationWarning`` (pytest puts command-line
    filters in front of the ini's, so an ini line cannot do it; these go in front of both). Every
    other warning, and every warning of the test's own code, reaches the run as before."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=THIRD_PARTY)
        yield


def quietly(manager: AbstractContextManager[T]) -> Iterator[T]:
    """A fixture's body: enter ``manager`` and, after the test, leave it, each within :func:`own_calls`;
    the test in between sees every warning."""
    stack = ExitStack()
    with own_calls():
        value = stack.enter_context(manager)
    try:
        yield value
    finally:
        with own_calls():
            stack.close()


def require_engine(config: pytest.Config, skip: bool) -> None:
    """Go on only if a Docker engine answers (asked once a session).

    Raises:
        pytest.skip.Exception: none answers and ``skip`` (``--kafka-chaos-skip-without-docker``).
        pytest.fail.Exception: none answers; the message names where it looked and the option.
    """
    if ENGINE_KEY not in config.stash:
        config.stash[ENGINE_KEY] = _missing_engine()
    where = config.stash[ENGINE_KEY]
    if where is None:
        return
    if skip:
        pytest.skip(f"no Docker engine answers at {where} (--kafka-chaos-skip-without-docker)")
    pytest.fail(
        f"no Docker engine answers at {where}, and this test needs one for its Kafka cluster: start Docker "
        "(or point DOCKER_HOST at an engine), or skip such tests with --kafka-chaos-skip-without-docker "
        "(ini: kafka_chaos_skip_without_docker = true)",
        pytrace=False,
    )


def _missing_engine() -> str | None:
    """Where no Docker engine answers, or None when one does."""
    from chaos.engine import docker_client, engine_address
    from chaos.errors import DockerUnavailable

    with own_calls():
        # docker's SDK leaves the socket of a connection that found nobody to the garbage collector,
        # whose ResourceWarning would reach a run where warnings are errors: collected here, unheard.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            docker_client(timeout=10).close()
            return None
        except DockerUnavailable:
            missing = engine_address()
        gc.collect()
    return missing
