"""Every command the harness prints or documents as advice is a command that exists, with options
that exist: each backticked ``kafka-chaos …`` in the package is resolved against the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from chaos.cli import cli
from chaos.experiments.runner import keep_hint

ROOT = Path(__file__).resolve().parents[2]
HINT = re.compile(r"`(kafka-chaos(?: [^`]*)?)`")
#: Where a hint goes on in the next string literal (``"… status "`` then ``f"{run_id}`"``) or
#: comment line (``#: up`` ), the two halves are one command.
STRING_GOES_ON = re.compile(r'"\s*\n\s*f?"')
COMMENT_GOES_ON = re.compile(r"\s*\n\s*#:?\s*")


def hints() -> list[str]:
    found = set()
    for path in (ROOT / "chaos").rglob("*.py"):
        for match in HINT.finditer(path.read_text()):
            hint = COMMENT_GOES_ON.sub(" ", STRING_GOES_ON.sub("", match.group(1)))
            found.add(re.sub(r"\{[^}]*\}", "X", hint))
    return sorted(found)


def resolve(hint: str) -> click.Command:
    """The command ``hint`` names; raises AssertionError naming what does not exist."""
    words = shlex.split(hint)[1:]
    command: click.Command = cli
    while words and isinstance(command, click.Group) and not words[0].startswith("-"):
        sub = command.get_command(click.Context(command), words[0])
        if sub is None:
            if command is cli or words[0].isupper():
                raise AssertionError(f"{hint!r}: no command {words[0]!r}")
            break  # an argument (a run id, a path)
        command, words = sub, words[1:]
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in words:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"{hint!r}: {command.name} has no option {word}"
    return command


def test_the_scanner_finds_every_hint_of_the_package() -> None:
    # exactly the package's hints today: a new or reworded hint is added here, and a scanner that
    # misses options, arguments or a hint split over two lines fails
    assert hints() == [
        "kafka-chaos",
        "kafka-chaos clean",
        "kafka-chaos clean --bootstrap-servers X",
        "kafka-chaos clean --bootstrap-servers …",
        "kafka-chaos clean --images",
        "kafka-chaos clean --run-id",
        "kafka-chaos cluster",
        "kafka-chaos cluster fault",
        "kafka-chaos cluster heal",
        "kafka-chaos cluster heal X",
        "kafka-chaos cluster status",
        "kafka-chaos cluster status --bootstrap-servers …",
        "kafka-chaos cluster status RUN_ID",
        "kafka-chaos cluster status X",
        "kafka-chaos cluster up",
        "kafka-chaos cluster up --security sasl_ssl",
        "kafka-chaos cluster up --sshd",
        "kafka-chaos doctor",
        "kafka-chaos explore",
        "kafka-chaos explore X --seed X",
        "kafka-chaos images",
        "kafka-chaos images build",
        "kafka-chaos images build --kafka-version X",
        "kafka-chaos images build --sshd",
        "kafka-chaos images build --sshd --kafka-version X",
        "kafka-chaos init",
        "kafka-chaos list",
        "kafka-chaos report",
        "kafka-chaos report RUN_DIR",
        "kafka-chaos run",
        "kafka-chaos run --bootstrap-servers",
        "kafka-chaos run --engines",
        "kafka-chaos run --engines URL,URL",
        "kafka-chaos run experiments/",
        "kafka-chaos schema",
        "kafka-chaos schema validate",
        "kafka-chaos schema verdict",
        "kafka-chaos soak",
        "kafka-chaos validate",
        "kafka-chaos validate --static-only",
    ]


@pytest.mark.parametrize("hint", hints())
def test_every_hint_names_a_real_command(hint: str) -> None:
    resolve(hint)


def test_keep_cluster_hint_is_a_real_command() -> None:
    command = resolve(keep_hint("20261127-120000-ab12"))
    assert command.name == "down"


def test_an_unknown_hint_is_caught() -> None:
    with pytest.raises(AssertionError):
        resolve("kafka-chaos cluster down --run-id X")
    with pytest.raises(AssertionError):
        resolve("kafka-chaos heal")
