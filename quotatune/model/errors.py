"""The one exception type the CLI turns into a single line on stderr and exit code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a file, a flag, a target, a payload.

    The message must be one line that says what is wrong and where (file, column, row),
    because it is all the user will see.
    """


class SourceError(Exception):
    """A source (daemon, API, server) failed in a way the caller may report and continue from."""
