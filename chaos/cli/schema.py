"""``kafka-chaos schema``: the JSON Schema of an experiment file or of an output the harness writes."""

from __future__ import annotations

import importlib
import json

import click
from pydantic import BaseModel

#: What each name describes (the file a person writes, or one a run writes), and its model; imported
#: on first use, so the command line starts without the runner.
SCHEMAS: dict[str, str] = {
    "experiment": "chaos.experiments.model:Experiment",  # an experiment file (YAML or JSON)
    "verdict": "chaos.oracle.verdict:Verdict",  # verdict.json of a run directory
    "validate": "chaos.validate.output:ValidateFile",  # validate.json of reports/validate-<id>/
    "suite": "chaos.results:SuiteFile",  # suite.json of reports/<suite-id>/
}


def model_of(name: str) -> type[BaseModel]:
    """The model whose schema ``name`` (a key of :data:`SCHEMAS`) is."""
    module, attr = SCHEMAS[name].split(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), attr)
    return model


def schema_text(name: str) -> str:
    """The JSON Schema of ``name`` (a key of :data:`SCHEMAS`), as published in docs/schemas/."""
    return json.dumps(model_of(name).model_json_schema(), indent=2, sort_keys=True) + "\n"


@click.command("schema")
@click.argument("name", metavar="NAME", type=click.Choice(sorted(SCHEMAS)))
def schema_cmd(name: str) -> None:
    """Print the JSON Schema of NAME: an experiment file, or the verdict.json, validate.json or
    suite.json the harness writes (each JSON output carries its schema_version)."""
    click.echo(schema_text(name), nl=False)
