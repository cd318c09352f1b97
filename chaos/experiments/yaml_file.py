"""An experiment file read as YAML, with the line of every key and item, so each mistake names its
line; hostile input (huge, deep, recursive or exploding aliases) is refused before any model sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

import yaml
from pydantic_core import ErrorDetails

from chaos.errors import UsageError
from chaos.experiments.model import ExperimentFileError

P = ParamSpec("P")
R = TypeVar("R")

#: Larger files are refused: an experiment is a page of YAML.
MAX_BYTES = 1 << 20
#: Deeper nesting is refused (an experiment nests five levels at most).
MAX_DEPTH = 32
#: More nodes, counting each alias as what it expands to, are refused.
MAX_NODES = 20_000


class Lines:
    """Line numbers of the keys and items of a YAML document, by path (``("producer", "rate")``)."""

    def __init__(self, node: yaml.Node, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple[str | int, ...], int] = {}
        self._nodes = 0
        self._walk(node, (), ())

    def _walk(self, node: yaml.Node, at: tuple[str | int, ...], above: tuple[int, ...]) -> None:
        """Record lines; refuse duplicate keys, recursive aliases, too deep or too many nodes."""
        if id(node) in above:
            raise self.error(at, "an anchor is used inside itself (a recursive alias): remove the alias")
        if len(at) > MAX_DEPTH:
            raise self.error(at, f"nested deeper than {MAX_DEPTH} levels: an experiment needs five at most")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise self.error(at, f"more than {MAX_NODES} values once aliases are expanded: write it out plainly")
        self.lines.setdefault(at, node.start_mark.line + 1)
        inside = (*above, id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                line = key.start_mark.line + 1
                if name in seen:
                    where = ".".join(str(p) for p in (*at, name))
                    raise ExperimentFileError(
                        f"{self.path}:{line}: {where}: duplicate key (first at line {seen[name]}): keep one"
                    )
                seen[name] = line
                self.lines[(*at, name)] = line
                self._walk(value, (*at, name), inside)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*at, i), inside)

    def line(self, loc: Sequence[str | int]) -> int:
        """The line of ``loc`` or of its nearest ancestor present in the file."""
        loc = tuple(loc)
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)

    def error(self, loc: Sequence[str | int], message: str) -> ExperimentFileError:
        """An error naming file, line and field."""
        field = ".".join(str(p) for p in loc) or "(file)"
        return ExperimentFileError(f"{self.path}:{self.line(loc)}: {field}: {message}")

    def check(self, loc: Sequence[str | int], fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)``.

        Raises:
            ExperimentFileError: ``fn`` raised a UsageError; its sentence, naming ``loc``'s line.
        """
        try:
            return fn(*args, **kwargs)
        except UsageError as e:
            raise self.error(loc, str(e)) from None


def pydantic_message(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key: remove it or check its spelling"
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        return str(err["msg"]).replace("Input should be", "must be")
    msg = str(err.get("msg", "is invalid"))
    msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
    whole = kind in ("model_type", "dict_type") or isinstance(err.get("input"), dict)  # a section: said by loc
    return msg if whole else f"{msg} (got {err.get('input')!r})"


def load_yaml(path: Path) -> tuple[dict[str, object], Lines]:
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise ExperimentFileError(f"{path}: larger than {MAX_BYTES >> 20} MiB: an experiment is a page of YAML")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ExperimentFileError(f"{path}: no such file: check the path") from e
    except IsADirectoryError as e:
        raise ExperimentFileError(f"{path}: is a directory: name the .yaml files in it, or pass it to run") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ExperimentFileError(f"{path}: cannot read it ({e}): make it a readable UTF-8 YAML file") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = Lines(node, path) if node is not None else None
        # Only now is it safe to build Python values: the node graph has no cycle and a bounded size.
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ExperimentFileError(f"{path}{line}: not valid YAML ({problem}): fix the syntax") from e
    except RecursionError as e:  # the YAML parser itself recurses per nesting level
        raise ExperimentFileError(
            f"{path}:1: (file): nested too deeply to parse (more than {MAX_DEPTH} levels): "
            "an experiment needs five at most"
        ) from e
    if lines is None or not isinstance(data, dict):
        raise ExperimentFileError(f"{path}:1: an experiment file must be a YAML mapping with at least a name")
    return data, lines
