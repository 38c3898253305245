"""The CLI: this module only registers commands (one module per command) and maps errors
to exit codes.  Command modules import heavy libraries inside their functions so that
``quotatune --help`` stays fast."""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.22 vendors click; older releases depend on it
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[no-redef]
from quotatune.cli import (
    backtest,
    diagnose,
    import_cmd,
    plan,
    prune,
    recommend,
    report,
    serve,
    status,
)
from quotatune.cli.collect import docker as collect_docker
from quotatune.cli.collect import kubernetes as collect_kubernetes
from quotatune.cli.collect import prometheus as collect_prometheus
from quotatune.model.errors import InputError
from quotatune.model.nametext import shown
from quotatune.model.redact import redact

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
app.command("prune")(prune.prune)
app.command("status")(status.status)
app.command("serve")(serve.command)
collect_app.command("kubernetes")(collect_kubernetes.command)
collect_app.command("docker")(collect_docker.command)
collect_app.command("prometheus")(collect_prometheus.command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: InputError becomes one line on stderr and exit code 2."""
    from quotatune.cli import config
    from quotatune.cli.allocator import (
        freeze_startup_objects,
        keep_freed_memory,
        ordinary_pages,
        skip_final_collection,
    )
    from quotatune.cli.output import one_line_tls_warning
    from quotatune.pipelines.maintenance import configure_modes

    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["serve"]:  # a long-lived exporter should give memory back; runs need not
        keep_freed_memory()
        ordinary_pages()
        freeze_startup_objects()
    configure_modes(group_readable=config.group_readable())
    one_line_tls_warning()
    try:
        # Not standalone, so that usage errors (a missing argument, "--keep-days abc") come
        # here and print one line like every other input error, not a framed help block.
        code = app(args=argv, standalone_mode=False)
        if args[:1] != ["serve"]:
            skip_final_collection()
    except NoArgsIsHelpError as exc:
        if exc.format_message().strip():  # rich help has already been printed to stdout
            exc.show()
        raise SystemExit(exc.exit_code) from None
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "quotatune"
        message = " ".join(exc.format_message().split())
        print(f"quotatune: error: {message} (see '{where} --help')", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        print("quotatune: aborted", file=sys.stderr)
        raise SystemExit(1) from None
    except InputError as exc:
        # A name or file name of the input (a store written before names were checked) is
        # shown as its escapes, never acting on the terminal.
        print(shown(redact(f"quotatune: error: {exc}")), file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("quotatune: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except OSError as exc:
        # Files and sockets the user pointed us at: their fault or their machine's, not ours.
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(shown(redact(f"quotatune: error: {where}{exc.strerror or exc}")),
              file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # a bug: still one line, with the traceback on request
        if os.environ.get("QUOTATUNE_DEBUG"):
            raise
        print(redact(
            f"quotatune: internal error: {type(exc).__name__}: {exc} "
            "(set QUOTATUNE_DEBUG=1 for the traceback)"), file=sys.stderr)
        raise SystemExit(3) from None
    # typer.Exit(n) inside a command returns n here (commands themselves return nothing).
    if isinstance(code, int) and not isinstance(code, bool) and code:
        raise SystemExit(code)


if __name__ == "__main__":
    main()
