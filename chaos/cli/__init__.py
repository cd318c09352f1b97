"""The ``kafka-chaos`` command line: one module per command group. A command parses its options,
calls one library function and renders the result; the logic lives in the library, where pytest
and scripts can call it too.

Exit codes (``docs/exit-codes.md``): 0 success · 1 an expectation failed · 2 usage or input error ·
3 infrastructure error (Docker, images, cluster health) · 4 an inconclusive verdict.
"""

from __future__ import annotations

import json
import logging
import sys

import click

from chaos import __version__
from chaos.cli.cluster import cluster
from chaos.cli.explore import explore_cmd
from chaos.cli.images import images
from chaos.cli.init import init_cmd
from chaos.cli.maintenance import clean, doctor
from chaos.cli.runs import list_cmd, reconcile, report_cmd, run_cmd
from chaos.cli.schema import schema_cmd
from chaos.cli.soak import soak_cmd
from chaos.cli.validate import validate
from chaos.errors import ChaosError, Interrupted
from chaos.signals import sigterm_raises


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kafka-chaos")
@click.option("-v", "--verbose", count=True, help="More logging (-vv: Kafka client logs too).")
def cli(verbose: int) -> None:
    """Measure how many Kafka messages are actually lost, and where, on a real cluster."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # kafka-python reports every refused connection during broker restarts at ERROR: noise here.
    logging.getLogger("kafka").setLevel(logging.DEBUG if verbose > 1 else logging.CRITICAL)


for command in (
    images,
    cluster,
    reconcile,
    run_cmd,
    explore_cmd,
    soak_cmd,
    list_cmd,
    report_cmd,
    validate,
    clean,
    doctor,
    schema_cmd,
    init_cmd,
):
    cli.add_command(command)


def _fail(message: str, code: int, as_json: bool, notes: list[str] | None = None) -> None:
    """One line on stderr (and, under ``--json``, ``{"error", "exit_code"}`` on stdout); exit ``code``."""
    click.echo(message, err=True)
    for note in notes or []:
        click.echo(note, err=True)
    if as_json:
        click.echo(json.dumps({"error": message.removeprefix("kafka-chaos: "), "exit_code": code}, indent=2))
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn harness errors into one line and an exit code (and, for a
    command given ``--json``, a JSON object on stdout, so a script reads every outcome the same way)."""
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        with sigterm_raises():
            cli.main(args=argv, prog_name="kafka-chaos", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        if as_json:
            _fail(f"kafka-chaos: {e.format_message()}", 2, as_json)
        e.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except ChaosError as e:
        _fail(f"kafka-chaos: {e}", e.exit_code, as_json, getattr(e, "__notes__", []))
    except KeyboardInterrupt:
        click.echo("kafka-chaos: interrupted; everything this command started was removed", err=True)
        sys.exit(130)
    except Interrupted as e:
        click.echo(
            f"kafka-chaos: terminated by signal {e.signum}; everything this command started was removed", err=True
        )
        sys.exit(128 + e.signum)
