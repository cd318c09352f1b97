"""The properties reader against the real ``java.util.Properties.load``: texts drawn at random from
the characters that matter to the syntax (separators, blanks, comment marks, backslashes, escapes,
every kind of line break and the characters Java does not treat as one) are read by both, and must
give the same keys and values, or both refuse them.

The texts come from a seeded generator rather than Hypothesis: the reference is a JVM, so a batch of
texts is read by one JVM, and Hypothesis would spend a single example per batch on its simplest one.

One deliberate difference: Java accepts a line with an empty key (``=value``, or a lone backslash
at the end of a file); the reader refuses or drops it, because in a Kafka configuration it is always
a mistake.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chaos.images.kafka_configs import java_properties
from chaos.images.recipes import DEFAULT_KAFKA_VERSION
from chaos.validate.properties import PropertiesError, parse_properties

pytestmark = pytest.mark.usefixtures("jdk")  # Kafka's own definitions and readers, run in a JVM

#: The characters the syntax turns on, and a few plain ones.
ALPHABET = [*" \t\f=:#!\\\n\r\x85\x1c\x0butfnab0123456789.", "\\u0041", "\\u00e9", "\\ud83d\\ude00", "\\uZZ"]

BATCH = 400


def drawn_texts(seed: int) -> list[str]:
    """``BATCH`` texts of 1-6 lines of up to 24 tokens each, the same for the same seed."""
    rng = random.Random(seed)
    return [
        "\n".join("".join(rng.choices(ALPHABET, k=rng.randint(0, 24))) for _ in range(rng.randint(1, 6)))
        for _ in range(BATCH)
    ]


def readable(answer: dict[str, str] | str) -> dict[str, str] | str:
    """Java's answer with a lone UTF-16 surrogate half as U+FFFD, as the reader gives it (it cannot be
    printed; a pair is one character for both)."""
    if isinstance(answer, str):
        return answer
    return {_whole(k): _whole(v) for k, v in answer.items() if k}


def _whole(text: str) -> str:
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def ours(text: str) -> dict[str, str] | str:
    try:
        return parse_properties(text, "drawn").values
    except PropertiesError as e:
        return f"refused: {e}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_reader_reads_as_java_does(seed: int, tmp_path: Path) -> None:
    drawn = drawn_texts(seed)
    folder = tmp_path
    paths = []
    for i, text in enumerate(drawn):
        path = folder / f"{i}.properties"
        path.write_bytes(text.encode("latin-1", "backslashreplace"))
        paths.append(path)
    java = java_properties(DEFAULT_KAFKA_VERSION, paths)
    mismatches = []
    for path, text in zip(paths, drawn, strict=True):
        theirs = readable(java[str(path)])
        mine = ours(path.read_bytes().decode("latin-1"))
        if isinstance(theirs, str) or isinstance(mine, str):
            both_refuse = isinstance(theirs, str) and isinstance(mine, str)
            empty_key = isinstance(theirs, dict) and "" in java[str(path)] and "without a key" in str(mine)
            if not (both_refuse or empty_key):
                mismatches.append((text, theirs, mine))
        elif mine != theirs:
            mismatches.append((text, theirs, mine))
    assert not mismatches, mismatches[:3]


def test_known_java_readings(tmp_path: Path) -> None:
    cases = {
        "continued": "a=one\\\n   two\n",
        "comment_then_backslash": "# note \\\nb=2\n",
        "separator_after_blank": "c   =   3\n",
        "escaped_separator": "d\\=e=4\n",
        "escape_in_value": "e=\\t\\x\\\\\n",
        "cr_only": "f=1\rg=2\r\n",
        "form_feed_in_value": "h=x\fy\n",
        "next_line_char": "i=x\x85y\n",
        "trailing_backslash_at_end": "j=5\\",
    }
    paths = []
    for name, text in cases.items():
        (tmp_path / name).write_bytes(text.encode("latin-1"))
        paths.append(tmp_path / name)
    java = java_properties(DEFAULT_KAFKA_VERSION, paths)
    for path in paths:
        assert ours(path.read_bytes().decode("latin-1")) == readable(java[str(path)]), path.name
