"""quotatune backtest — replay history: train, recommend once, score the following days."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import FileFormat, StoreDir

# A century, as prune's --keep-days: past it a date offset overflows (nan and inf failed as
# internal errors while rounding to whole days, 1e300 printed a 300-digit day count).
MAX_DAYS = 36500


def check_days(value: float | None, flag: str) -> float | None:
    """``value`` as given, or an input error naming ``flag`` if it is not finite or past
    :data:`MAX_DAYS` (whether it is a positive whole number is the backtest's to say)."""
    import math

    from quotatune.model.errors import InputError

    if value is not None and not (math.isfinite(value) and value <= MAX_DAYS):
        raise InputError(f"{flag} must be a whole number of days up to {MAX_DAYS}, "
                         f"not {value:g}")
    return value


def command(
    args: Annotated[
        list[str] | None,
        typer.Argument(help="TARGET (ns/, ns/workload or ns/workload/container; default: all), "
                       "more --from files or --strategy names (after a flag, a shell glob or "
                       "several names arrive here)."),
    ] = None,
    from_files: Annotated[
        list[Path] | None,
        typer.Option("--from", readable=False, help="Usage files to replay (streamed)."),
    ] = None,
    fmt: FileFormat = None,
    store: StoreDir = None,
    train_days: Annotated[
        float | None, typer.Option("--train-days", help="Whole UTC days to train on (default "
                                   "14).")
    ] = None,
    test_days: Annotated[
        float | None, typer.Option("--test-days", help="Whole UTC days to score (default 7).")
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
    """Train each container on its first whole UTC days, recommend once, score the next days
    (from the store's per-day rollups, or --from files streamed into them)."""
    from quotatune.cli import config
    from quotatune.cli.output import err, progress
    from quotatune.model import Target
    from quotatune.model.errors import InputError
    from quotatune.pipelines.backtest import load_history, replay, replay_folds
    from quotatune.pipelines.recommend import strategy_names
    from quotatune.render.backtest import (
        render_backtest_html,
        render_backtest_json,
        render_backtest_table,
        render_folds_json,
        render_folds_table,
    )

    STRATEGIES = strategy_names()

    if output not in ("table", "json", "html"):
        raise InputError(f"unknown output {output!r}; use table, json or html")
    files = list(from_files or [])
    # Empty names are kept, to be refused with the unknown ones: "$A,$B" with B unset, or
    # "" from an unset variable, would otherwise score other strategies than those asked for.
    names = [n for s in strategy or [] for n in s.split(",")]
    targets: list[str] = []
    for a in args or []:
        if a in STRATEGIES and names:
            names.append(a)
        elif files and Path(a).is_file():
            files.append(Path(a))
        elif "/" in a and not targets and not Path(a).exists():
            targets.append(a)
        else:
            raise InputError(f"unexpected argument {a!r}: not a TARGET (ns/workload), a file "
                             f"after --from, nor a strategy after --strategy "
                             f"({', '.join(STRATEGIES)})")
    if files and store is not None:
        raise InputError("give --from FILE… or --store DIR, not both")
    target = Target.parse(targets[0] if targets else None)
    strategies = names or STRATEGIES
    train_days = check_days(train_days, "--train-days")
    test_days = check_days(test_days, "--test-days")
    shape = None
    if folds is not None:
        if output == "html":
            raise InputError("-o html shows one split; use table or json with --folds")
        if train_days is not None or test_days is not None:
            shape = (train_days or 14.0, test_days or 7.0)
    train_days = 14.0 if train_days is None else train_days
    test_days = 7.0 if test_days is None else test_days
    with progress(quiet=output == "json") as bar:  # as diagnose: JSON is for scripts
        history = load_history(files, fmt, None if files else config.store_dir(store),
                               strategies, target, progress=bar)
        if folds is None:
            rows = replay(history, strategies, train_days=train_days, test_days=test_days,
                          progress=bar)
        else:
            table, summary = replay_folds(history, strategies, folds=folds, shape=shape)
    for w in history.errors:
        err(f"warning: {w}")
    if folds is not None:
        if output == "json":
            sys.stdout.write(render_folds_json(table, summary))
        else:
            sys.stdout.write(render_folds_table(table, summary))
        return
    if output == "json":
        sys.stdout.write(render_backtest_json(rows))
        return
    sys.stdout.write(render_backtest_table(rows, train_days, test_days))
    if output == "html":
        from quotatune.pipelines import archive

        path = out or config.reports_dir(None) / "backtest.html"
        archive.make_dir(path.parent)
        archive.write_atomic(path, render_backtest_html(rows, train_days, test_days))
        sys.stdout.write(f"wrote {path}\n")
