"""The ``application:`` section of an experiment file: the team's own program, judged as a black box.

The harness starts it (a host command or a container image) with the brokers' address and its
topics in the environment, writes its input in the shape it expects, and judges what it writes to
its output topic, correlated to the inputs by what survives its processing::

    application:
      command: [./bin/orders-app, --profile, test]
      env: {BOOTSTRAP_SERVERS: "${bootstrap}", INPUT_TOPIC: "${input_topic}",
            OUTPUT_TOPIC: "${output_topic}", GROUP_ID: "${group}"}
      input: {value: {order: "${id}", amount: "${seq}"}, key: "${id}"}
      output: {correlate: {json: order}}
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chaos.errors import UsageError
from chaos.workloads.application import ENV_PLACEHOLDERS, AppSpec, Correlation
from chaos.workloads.shape import InputShape, check_template
from chaos.workloads.spec import SHAPED_CLIENTS, SHAPED_MODES

Scalar = str | int | float | bool


class MissingPath(UsageError):
    """A program or file the application section names does not exist; ``loc`` says where."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class InputModel(_Strict):
    """The input records: a value template (a mapping, sent as JSON, or text) and a key template."""

    value: dict[str, object] | str = Field(default_factory=lambda: dict[str, object](id="${id}"))
    key: str | None = "${id}"
    slots: int = Field(16, ge=1, le=1_000_000)

    @field_validator("key")
    @classmethod
    def _key(cls, key: str | None) -> str | None:
        try:
            return check_template(key, "key") if key is not None else None
        except UsageError as e:
            raise ValueError(str(e).removeprefix("key: ")) from e

    def shape(self) -> InputShape:
        """The :class:`InputShape` the producer writes (a mapping becomes a JSON template; a string
        that is exactly ``${seq}`` or ``${slot}`` becomes a JSON number)."""
        if isinstance(self.value, str):
            return InputShape(self.value, self.key, self.slots)
        text = json.dumps(self.value, separators=(", ", ": "))
        text = re.sub(r'"\$\{(seq|slot)\}"', r"${\1}", text)
        return InputShape(text, self.key, self.slots)

    @model_validator(mode="after")
    def _templates(self) -> InputModel:
        try:
            self.shape()
        except UsageError as e:
            raise ValueError(str(e).removeprefix("application input ")) from e
        return self


class CorrelateModel(_Strict):
    """Where an output names its input: a header, or a JMESPath expression into its JSON value."""

    # ``json`` in a file; its field name too, so a dumped experiment validates again (a worker's copy)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, populate_by_name=True)

    header: str | None = Field(None, min_length=1)
    json_path: str | None = Field(None, alias="json", min_length=1)

    @model_validator(mode="after")
    def _one(self) -> CorrelateModel:
        if (self.header is None) == (self.json_path is None):
            raise ValueError("give one of header: NAME or json: EXPRESSION")
        if self.json_path is not None:
            try:
                jmespath.compile(self.json_path)
            except JMESPathError as e:
                raise ValueError(f"json: {self.json_path!r} is not a JMESPath expression: {e}") from e
        return self

    def correlation(self) -> Correlation:
        """As the output drain takes it."""
        if self.header is not None:
            return Correlation("header", self.header)
        return Correlation("json", str(self.json_path))


class OutputModel(_Strict):
    """The application's output topic (default ``<topic>-out``) and how its records name their input."""

    topic: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    correlate: Literal["key"] | CorrelateModel = "key"
    #: Check that outputs keep their inputs' order per input key (within each output partition).
    ordered: bool = False

    @field_validator("correlate", mode="before")
    @classmethod
    def _correlate(cls, value: object) -> object:
        """A mapping is a header or a JSON path: its own mistake is the one to tell, not the literal's."""
        if not isinstance(value, dict):
            return value
        try:
            return CorrelateModel.model_validate(value)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}") from None

    def correlation(self) -> Correlation:
        """As the output drain takes it."""
        return Correlation("key", "") if self.correlate == "key" else self.correlate.correlation()


class ApplicationModel(_Strict):
    """The team's application: a host ``command`` or a container ``image`` (with ``command`` as its
    arguments), its environment (``${bootstrap}``, ``${input_topic}``, ``${output_topic}``,
    ``${group}``, ``${run_id}``), files mounted into its container, the consumer ``group`` it
    commits in (default: the run's, given as ``${group}``), and how long it may take to start
    consuming and to stop."""

    command: list[str] = Field(default_factory=list)
    image: str | None = Field(None, min_length=1)
    env: dict[str, Scalar] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    group: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    instances: int = Field(1, ge=1, le=8)
    input: InputModel = Field(default_factory=InputModel)
    output: OutputModel = Field(default_factory=OutputModel)
    start_timeout: float = Field(60.0, gt=0)
    stop_timeout: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _runs(self) -> ApplicationModel:
        if not self.command and self.image is None:
            raise ValueError("give a command (a program on this machine) or an image (a container)")
        if self.files and self.image is None:
            raise ValueError("files are mounted into a container: give an image, or let the command read them")
        texts = [*self.command, *(str(v) for v in self.env.values())]
        for text in texts:
            names = {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)}
            unknown = sorted(n for n in names if n and n not in ENV_PLACEHOLDERS)
            if unknown:
                raise ValueError(f"unknown placeholder ${{{unknown[0]}}}: use {', '.join(ENV_PLACEHOLDERS)}")
        if not any("${bootstrap}" in t or "$bootstrap" in t for t in texts):
            raise ValueError(
                "the application is never told where the brokers are: put ${bootstrap} in its env or command"
            )
        if self.output.correlate == "key" and (self.input.key is None or "${id}" not in self.input.key):
            raise ValueError("correlate: key needs the input key to hold ${id}: set input.key, e.g. '${id}'")
        return self

    def conflict(
        self, client: str, mode: str, topic: str, topic_config: Mapping[str, object], transformer_output: str | None
    ) -> tuple[tuple[str, ...], str] | None:
        """The first thing in the rest of the file this section cannot run with (where, and why),
        given the producer's ``client`` and ``mode``, the input ``topic`` and its config, and a
        consumer's own output topic; None: nothing."""
        if client not in SHAPED_CLIENTS:
            return ("producer", "client"), f"an application's input is written by {' or '.join(SHAPED_CLIENTS)}"
        if mode not in SHAPED_MODES:
            return ("producer", "mode"), f"an application's input is written in mode {', '.join(SHAPED_MODES)}"
        if self.output.topic == topic:
            return ("application", "output", "topic"), f"must differ from the input topic {topic}"
        if "compact" in str(topic_config.get("cleanup.policy", "")):
            return ("topic", "config", "cleanup.policy"), "an application's input topic is not compacted here"
        if transformer_output is not None:
            return ("consumer", "output_topic"), "a run with an application has one output topic: its own"
        return None

    def with_paths(self, base: Path) -> ApplicationModel:
        """This section with its command's program and its files made ``base``'s where relative.

        Raises:
            MissingPath: the program (a path) or a file does not exist.
        """
        command = list(self.command)
        if self.image is None and "/" in command[0]:
            program = Path(command[0]) if Path(command[0]).is_absolute() else (base / command[0]).resolve()
            if not program.is_file():
                raise MissingPath(("command",), f"{program} does not exist: give the application's program")
            command[0] = str(program)
        files = {}
        for target, source in self.files.items():
            found = Path(source) if Path(source).is_absolute() else (base / source).resolve()
            if not found.exists():
                raise MissingPath(("files", target), f"{found} does not exist")
            files[target] = str(found)
        return self.model_copy(update={"command": command, "files": files})

    def spec(self, topic: str, group: str, run_id: str, run_dir: Path) -> AppSpec:
        """The :class:`AppSpec` of one run (loading made the command's and files' paths absolute)."""
        return AppSpec(
            command=tuple(self.command),
            image=self.image,
            env={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.env.items()},
            files=dict(self.files),
            input_topic=topic,
            output_topic=self.output.topic or f"{topic}-out",
            group=self.group or group,
            instances=self.instances,
            correlation=self.output.correlation(),
            run_id=run_id,
            run_dir=str(run_dir),
            start_timeout=self.start_timeout,
            stop_timeout=self.stop_timeout,
            ordered=self.output.ordered,
        )
