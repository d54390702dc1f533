"""Errors the command line turns into plain messages and exit codes (2: bad input or usage)."""

from __future__ import annotations

import pandas as pd


class UserInputError(Exception):
    """Bad input or usage: the command line prints the message and exits with code 2."""

    exit_code = 2


class ConfigError(UserInputError):
    """params.yaml is missing, malformed or inconsistent."""


class DataError(UserInputError):
    """An input table is unusable; the message names the file, the column and example rows."""

    def __init__(self, file: str, column: str | None, problem: str, examples: pd.DataFrame | None = None):
        self.file, self.column, self.problem = file, column, problem
        where = f"{file}, column '{column}'" if column else file
        message = f"{where}: {problem}"
        if examples is not None and len(examples):
            message += "\nExample rows:\n" + examples.head(5).to_string(max_colwidth=60)
        super().__init__(message)


class PipelineError(Exception):
    """A failure that is not the user's input (exit code 1), e.g. no champion model registered."""

    exit_code = 1
