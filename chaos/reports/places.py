"""Where CI points at a result: a file as the repository names it, and a line in it.

JUnit's ``file``/``line``, GitHub's annotations and SARIF locations all name a path relative to the
repository's root (the directory CI runs in) and a line: for a run, its experiment file and the
line of the failing expectation's key under ``expect:``; for a setting of ``validate``, its
properties file and line (:mod:`chaos.reports.validation`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from chaos import rundir

if TYPE_CHECKING:
    from chaos.reports import RunReport

#: An experiment file is a page of YAML; larger ones are not read again for a line number.
_MAX_BYTES = 1 << 20


def repo_path(path: str | Path, root: Path) -> str:
    """``path`` with ``/`` separators, relative to ``root`` when it lies under it (a path given
    relative stays as given: CI runs from the repository's root).

    >>> repo_path("/ci/repo/experiments/b1.yaml", Path("/ci/repo")), repo_path("e/b1.yaml", Path("/x"))
    ('experiments/b1.yaml', 'e/b1.yaml')
    >>> repo_path("/elsewhere/b1.yaml", Path("/ci/repo"))
    '/elsewhere/b1.yaml'
    """
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


def expectation_line(path: Path, metric: str) -> int:
    """The line of ``metric``'s key under ``expect:`` in the experiment file ``path`` (from the
    YAML's node marks, so comments and flow style are no trouble); the line of ``expect:`` when the
    key is not there, and 1 when the file cannot be read or holds no ``expect:``.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "e.yaml"
    >>> _ = f.write_text("name: e\\nexpect:\\n  # none acked\\n  acked: 0\\n  broker_loss: '>0'\\n")
    >>> expectation_line(f, "broker_loss"), expectation_line(f, "consumer_loss"), expectation_line(f.parent, "x")
    (5, 2, 1)
    """
    try:
        if path.stat().st_size > _MAX_BYTES:
            return 1
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return 1
    expect = _value_of(root, "expect")
    if expect is None:
        return 1
    key, value = expect
    found = _value_of(value, metric)
    return (found[0] if found else key).start_mark.line + 1


def _value_of(node: yaml.Node | None, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The key node and value node of ``name`` in a mapping node (None: not a mapping, or no such key)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return key, value
    return None


def experiment_file(run: RunReport) -> Path:
    """The experiment file a run was started from (``run.json``'s ``file``), or the experiment as
    run in its directory when that is not recorded (a run made by hand or by a ``Scenario``)."""
    given = run.meta.get("file")
    return Path(given) if isinstance(given, str) and given else run.run_dir / rundir.EXPERIMENT


def run_place(run: RunReport, root: Path) -> tuple[str, int]:
    """A run's file (repository-relative) and line: its first failed expectation's, else line 1."""
    path = experiment_file(run)
    failed = run.verdict.failed_expectations() if run.verdict is not None and run.verdict.conclusive else []
    line = expectation_line(path, metric_of(failed[0].name)) if failed else 1
    return repo_path(path, root), line


def metric_of(expectation: str) -> str:
    """The metric an expectation names (its key under ``expect:``).

    >>> metric_of("broker_loss > 0")
    'broker_loss'
    """
    return expectation.split(" ", 1)[0]
