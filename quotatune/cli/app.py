"""The CLI: this module only registers commands (one module per command) and maps errors
to exit codes.  Command modules import heavy libraries inside their functions so that
``quotatune --help`` stays fast."""

from __future__ import annotations

import sys

import typer

from quotatune.errors import InputError

app = typer.Typer(
    name="quotatune",
    help="CPU and memory requests for containers from real usage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
collect_app = typer.Typer(
    help="Sample usage from a live source into the history store.", no_args_is_help=True
)
app.add_typer(collect_app, name="collect")

# Explicit registry: one line per command, one module per command.


def main(argv: list[str] | None = None) -> None:
    """Console entry point: InputError becomes one line on stderr and exit code 2."""
    try:
        app(args=argv, standalone_mode=True)
    except InputError as exc:
        print(f"quotatune: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("quotatune: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
