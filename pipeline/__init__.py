"""Stages, configuration, I/O, MLflow and the `kap` command line."""
