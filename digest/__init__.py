"""digest: compose a newsletter digest from articles and send it."""

__version__ = "0.1.0"
