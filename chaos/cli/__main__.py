"""``python -m chaos.cli``: the same as the ``kafka-chaos`` command."""

from chaos.cli import main

main()
