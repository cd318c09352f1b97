"""``validate --app``: the team's application as the matrix's consumer.

``--app`` is a command line (a program on this machine and its arguments) or a container image;
``--app-config FILE`` is a YAML file holding an ``application:`` section (docs/applications.md) for
anything the defaults do not fit. By default the application is told, in its environment,
``BOOTSTRAP_SERVERS``, ``INPUT_TOPIC``, ``OUTPUT_TOPIC``, ``GROUP_ID`` and ``CONSUMER_CONFIG`` (the
team's consumer file, as given); its input is ``{"id": "<producer>-<seq>"}`` keyed by that identity,
and its outputs are correlated by their key.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import yaml
from pydantic import ValidationError

from chaos.errors import UsageError
from chaos.experiments.app_model import ApplicationModel

#: The environment an application given by ``--app`` alone is started with.
DEFAULT_ENV = {
    "BOOTSTRAP_SERVERS": "${bootstrap}",
    "INPUT_TOPIC": "${input_topic}",
    "OUTPUT_TOPIC": "${output_topic}",
    "GROUP_ID": "${group}",
}


def _from_file(path: Path) -> dict[str, object]:
    """The ``application:`` section of ``path`` (or the whole file when it is that section).

    Raises:
        UsageError: unreadable, not YAML, or not a mapping.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"--app-config {path} cannot be read as YAML: {e}") from None
    if isinstance(data, dict) and "application" in data:
        data = data["application"]
    if not isinstance(data, dict):
        raise UsageError(f"--app-config {path} must hold an application: mapping (see docs/applications.md)")
    return dict(data)


def _runs(app: str) -> dict[str, object]:
    """``--app`` as a command (its first word a file, or a program on the PATH) or an image (one word
    that is neither).

    Raises:
        UsageError: an empty value, or several words whose first is no program.
    """
    words = shlex.split(app)
    if not words:
        raise UsageError("--app is empty: give the application's command line or its container image")
    program = Path(words[0])
    if program.is_file():
        return {"command": [str(program.resolve()), *words[1:]]}
    if shutil.which(words[0]):
        return {"command": words}
    if len(words) == 1:
        return {"image": words[0]}
    raise UsageError(
        f"--app {app!r}: {words[0]} is no program on this machine: give an existing program (a path, or a "
        "command on the PATH) with its arguments, or a container image the Docker engine has"
    )


def application_from(app: str | None, app_config: Path | None, consumer_config: Path) -> ApplicationModel | None:
    """The application the matrix runs as its consumer (None: the harness's own consumer).

    Raises:
        UsageError: neither form names an application that can run, in one sentence.
    """
    if app is None and app_config is None:
        return None
    section: dict[str, object] = _from_file(app_config) if app_config is not None else {}
    if app is not None:
        section = {k: v for k, v in section.items() if k not in ("command", "image")} | _runs(app)
    elif app_config is not None and isinstance(given := section.get("command"), list) and given:
        command = [str(part) for part in given]
        if "/" in command[0] and not Path(command[0]).is_absolute() and section.get("image") is None:
            command[0] = str((app_config.parent / command[0]).resolve())
        if "/" in command[0] and not Path(command[0]).is_file() and section.get("image") is None:
            raise UsageError(f"the application's program {command[0]} does not exist (--app-config {app_config})")
        section["command"] = command
    if "env" not in section:
        section["env"] = {**DEFAULT_ENV, "CONSUMER_CONFIG": str(consumer_config.resolve())}
    try:
        return ApplicationModel.model_validate(section)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"the application: {where + ': ' if where else ''}{first['msg']}") from None
