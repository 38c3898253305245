"""quotatune backtest — replay history: train, recommend once, score the following days."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="More --from files or --strategy names (after a flag, a shell "
                       "glob or several names arrive here)."),
    ] = None,
    from_files: Annotated[
        list[Path] | None, typer.Option("--from", help="Usage files to replay.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Format of --from files.")] = None,
    train_days: Annotated[
        float | None, typer.Option("--train-days", help="Days to train on (default 14).")
    ] = None,
    test_days: Annotated[
        float | None, typer.Option("--test-days", help="Days to score (default 7).")
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option("--folds", min=1, help="Rolling-origin folds: the latest N origins per "
                     "train+test shape (14+7 and 7+7 days, or the one --train-days/--test-days "
                     "give), sliding by a day; prints every fold and the worst / median / best."),
    ] = None,
    strategy: Annotated[
        list[str] | None,
        typer.Option("--strategy", help="Strategy name(s); default: every strategy."),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table, json or html.")] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file for -o html (default: reports dir).")
    ] = None,
) -> None:
    """Train on the first days of every container, recommend once, score the next days."""
    from quotatune.model.errors import InputError
    from quotatune.pipelines.backtest import replay, replay_folds
    from quotatune.pipelines.recommend import strategy_names
    from quotatune.render.backtest import (
        render_backtest_html,
        render_backtest_table,
        render_folds_table,
    )

    STRATEGIES = strategy_names()

    if output not in ("table", "json", "html"):
        raise InputError(f"unknown output {output!r}; use table, json or html")
    files = list(from_files or [])
    names = [n for s in strategy or [] for n in s.split(",") if n]
    for a in args or []:
        if a in STRATEGIES and names:
            names.append(a)
        elif files and Path(a).is_file():
            files.append(Path(a))
        else:
            raise InputError(f"unexpected argument {a!r}: not a file after --from, nor a "
                             f"strategy after --strategy ({', '.join(STRATEGIES)})")
    if not files:
        raise InputError("backtest needs --from FILE… with the usage history to replay")
    if folds is not None:
        if output == "html":
            raise InputError("-o html shows one split; use table or json with --folds")
        shape = None
        if train_days is not None or test_days is not None:
            shape = (train_days or 14.0, test_days or 7.0)
        skipped: list[str] = []
        table, summary = replay_folds(files, fmt, names or STRATEGIES, folds=folds, shape=shape,
                                      warnings=skipped)
        from quotatune.cli.output import err

        for w in skipped:
            err(f"warning: {w}")
        if output == "json":
            sys.stdout.write(json.dumps({"folds": table, "summary": summary}, indent=2) + "\n")
        else:
            sys.stdout.write(render_folds_table(table, summary))
        return
    train_days = 14.0 if train_days is None else train_days
    test_days = 7.0 if test_days is None else test_days
    warnings: list[str] = []
    rows = replay(files, fmt, names or STRATEGIES, train_days=train_days, test_days=test_days,
                  warnings=warnings)
    from quotatune.cli.output import err

    for w in warnings:
        err(f"warning: {w}")
    if output == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    sys.stdout.write(render_backtest_table(rows, train_days, test_days))
    if output == "html":
        from quotatune.cli import config
        from quotatune.pipelines import archive

        path = out or config.reports_dir(None) / "backtest.html"
        archive.make_dir(path.parent)
        archive.write_atomic(path, render_backtest_html(rows, train_days, test_days))
        sys.stdout.write(f"wrote {path}\n")
