"""``python -m kseg.cli``: the same as the ``kseg`` command."""
from kseg.cli import app

app()
