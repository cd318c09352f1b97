"""A project of its own for the pytest plugin's tests, in pytester's directory: its files and its ini."""

from __future__ import annotations

import pytest


def project(pytester: pytest.Pytester, files: dict[str, str], ini: str = "") -> pytest.Pytester:
    """``files`` (a path under the project: its text) written, and ``ini`` as the project's [pytest] ini."""
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    pytester.makeini("[pytest]\n" + ini)
    return pytester
