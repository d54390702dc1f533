"""`python -m pipeline` is the same as the `kap` command."""

from pipeline.cli import app

app()
