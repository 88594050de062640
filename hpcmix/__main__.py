"""``python -m hpcmix`` is the ``hpcmix`` command."""

from .cli import run_main

run_main()
