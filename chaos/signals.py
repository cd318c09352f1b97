"""Scoped signal handling so teardown runs on Ctrl-C and SIGTERM too.

Python already turns SIGINT into :class:`KeyboardInterrupt`; :func:`sigterm_raises` does the same
for SIGTERM (raising :class:`~chaos.errors.Interrupted`), and :func:`deferred_signals` keeps both
from cutting a teardown in half: they are held until the block ends, then delivered.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from chaos.errors import Interrupted


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    del frame
    raise Interrupted(signum)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Interrupted`; the previous handler is restored after.

    Outside the main thread signals cannot be handled, and this does nothing.
    """
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs (a teardown), deliver them when it ends."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
