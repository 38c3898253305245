"""The CLI: this module only registers commands (one module per command) and maps errors
to exit codes.  Command modules import heavy libraries inside their functions so that
``quotatune --help`` stays fast."""

from __future__ import annotations

import os
import sys

import typer

from quotatune.cli import (
    backtest,
    collect_docker,
    collect_kubernetes,
    collect_prometheus,
    diagnose,
    import_cmd,
    plan,
    recommend,
    report,
)
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
app.command("import")(import_cmd.command)
app.command("recommend")(recommend.command)
app.command("diagnose")(diagnose.command)
app.command("plan")(plan.command)
app.command("report")(report.command)
app.command("backtest")(backtest.command)
collect_app.command("kubernetes")(collect_kubernetes.command)
collect_app.command("docker")(collect_docker.command)
collect_app.command("prometheus")(collect_prometheus.command)


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
    except OSError as exc:
        # Files and sockets the user pointed us at: their fault or their machine's, not ours.
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"quotatune: error: {where}{exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # a bug: still one line, with the traceback on request
        if os.environ.get("QUOTATUNE_DEBUG"):
            raise
        print(
            f"quotatune: internal error: {type(exc).__name__}: {exc} "
            "(set QUOTATUNE_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(3) from None


if __name__ == "__main__":
    main()
