"""``python -m digest``: the same command line as the ``digest`` script."""

from .cli import main

main()
