"""The one exception type the CLI turns into a single line on stderr and exit code 2."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type's name if it has none): library errors
    (Arrow's, pandas') can run to several lines, and a user sees one."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class InputError(Exception):
    """Bad input from the user: a file, a flag, a target, a payload.

    The message must be one line that says what is wrong and where (file, column, row),
    because it is all the user will see.
    """


class RowError(InputError):
    """Bad input in one row of a frame read from a file.  ``row`` is the number the reader
    gave (for a CSV: the header is row 1, and blank lines, which the parsers skip, are not
    counted); a reader that knows better renumbers it with :meth:`at_row`."""

    def __init__(self, source: str, column: str, row: int, what: str) -> None:
        super().__init__(f"{source}: column {column!r}, row {row}: {what}")
        self.source, self.column, self.row, self.what = source, column, row, what

    def at_row(self, row: int) -> RowError:
        return RowError(self.source, self.column, row, self.what)

    def __reduce__(self) -> tuple[type[RowError], tuple[str, str, int, str]]:
        return RowError, (self.source, self.column, self.row, self.what)


class SourceError(Exception):
    """A source (daemon, API, server) failed in a way the caller may report and continue from."""
