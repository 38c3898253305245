"""quotatune report [TARGET] — one self-contained HTML report, and the nightly cron job.

Cron behaviour (``--cron``, also right for the CronJob in deploy/): nothing is printed unless
something fails; the file name carries the UTC time; ``--keep``/``--keep-days`` prune old
reports; ``--fail-on`` sets exit code 1.  Overlapping runs: the second waits ``--lock-wait``
seconds (default 0) for the first, then exits with code 75 (EX_TEMPFAIL: try again later) and
one line naming the holder — it never writes beside a run in progress.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from quotatune.cli.options import FileFormat, FromFiles, NowText, StoreDir, TargetArgs

EXIT_LOCKED = 75  # sysexits.h EX_TEMPFAIL
MAX_KEEP_DAYS = 36_500


def command(
    args: TargetArgs = None,
    from_files: FromFiles = None,
    fmt: FileFormat = None,
    store: StoreDir = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Reports directory (default ./reports, "
                                  "or QUOTATUNE_REPORTS).")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Strategy name (default: the default).")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Containers to chart.")] = 20,
    cron: Annotated[
        bool, typer.Option("--cron", help="Print nothing unless something fails.")
    ] = False,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Keep only the newest N reports.")
    ] = None,
    keep_days: Annotated[
        float | None, typer.Option("--keep-days", min=0, help="Delete reports older than "
                                   "N days.")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity "
                     "(info, warning, critical); the report is written first."),
    ] = None,
    lock_wait: Annotated[
        float, typer.Option("--lock-wait", min=0, help="Seconds to wait for an overlapping "
                            "run before giving up with exit code 75.")
    ] = 0.0,
    nodes_file: Annotated[
        Path | None, typer.Option("--nodes", help="Nodes ('kubectl get nodes -o json') for "
                                  "the capacity section.")
    ] = None,
    shapes: Annotated[
        list[str] | None, typer.Option("--node-shape", help="Candidate node shape for the "
                                       "capacity section, e.g. 4cpu/16Gi; repeatable.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Failures older than this are history (info, never "
                     "critical), e.g. 7d; 'all' keeps every failure at its severity "
                     "(default: 14d)."),
    ] = None,
    now_text: NowText = None,
) -> None:
    """Write an HTML report (summary, tables, charts, findings, capacity, method) into the
    reports directory and update its index.html."""
    from quotatune.cli import config
    from quotatune.cli.common import parse_now
    from quotatune.cli.output import err
    from quotatune.model import severity_rank
    from quotatune.model.errors import InputError
    from quotatune.pipelines import archive
    from quotatune.pipelines.diagnose import parse_since
    from quotatune.pipelines.recommend import check_strategy

    # Before the reports directory and its lock: a bad name leaves nothing behind.
    check_strategy(strategy)
    # At most a century, as the store's --keep-days: inf or 1e300 overflowed the date
    # arithmetic of the prune, after the report was written.
    if keep_days is not None and not keep_days <= MAX_KEEP_DAYS:
        raise InputError(f"--keep-days must be a number of days up to {MAX_KEEP_DAYS}, "
                         f"not {keep_days:g}")
    threshold = severity_rank(fail_on) if fail_on is not None else None
    window = parse_since(since)
    now = parse_now(now_text)
    out_dir = config.reports_dir(out)
    try:
        archive.make_dir(out_dir)
    except OSError as exc:
        raise InputError(f"cannot create reports directory {out_dir}: "
                         f"{exc.strerror or exc}") from None
    with ExitStack() as held:
        try:
            with _writing_to(out_dir):
                held.enter_context(archive.locked(out_dir, lock_wait, now))
        except archive.LockHeld as exc:
            err(f"quotatune: report: {exc}; not writing a report beside it")
            raise typer.Exit(EXIT_LOCKED) from None
        # Reading is outside _writing_to: an unreadable store file is named as itself
        # (it was reported as "cannot write to" the reports directory).
        outcome, errors = _run(args, from_files, fmt, store, strategy, top, nodes_file,
                               shapes, now, window, progress=not cron)
        with _writing_to(out_dir):
            written = archive.publish(out_dir, outcome.html, now, keep=keep,
                                      keep_days=keep_days)
    findings = outcome.findings
    for e in errors:
        err(f"warning: {e}")
    failing = [] if threshold is None or findings is None else [
        f for f in findings if severity_rank(f.severity) >= threshold]
    if failing:
        err(f"quotatune: report: {len(failing)} finding(s) at or above {fail_on}; "
            f"see {written.report}")
        raise typer.Exit(1)
    if not cron:
        typer.echo(f"wrote {written.report}")
        for p in written.removed:
            typer.echo(f"removed {p}")


@contextmanager
def _writing_to(out_dir: Path) -> Iterator[None]:
    """An OSError inside is the reports directory's (full disk, read-only): one line."""
    from quotatune.model.errors import InputError

    try:
        yield
    except OSError as exc:
        raise InputError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None


def _run(args: list[str] | None, from_files: list[Path] | None, fmt: str | None,
         store: Path | None, strategy: str | None, top: int, nodes_file: Path | None,
         shapes: list[str] | None, now: Any, since: Any, progress: bool
         ) -> tuple[Any, list[str]]:
    """The report's outcome (its HTML and findings) and the warnings of what was read."""
    from quotatune.cli import config
    from quotatune.cli.common import split_target_and_files
    from quotatune.cli.output import DayProgress
    from quotatune.cli.output import progress as files_progress
    from quotatune.pipelines.inputs import load_inputs
    from quotatune.pipelines.plan import load_nodes
    from quotatune.pipelines.report import build_report, build_stored_report
    from quotatune.pipelines.stored import open_stored, stored_from_files

    target, files = split_target_and_files(args or [], from_files)
    nodes = load_nodes(nodes_file, None, None)
    with ExitStack() as stack:
        # Files are streamed into a temporary store first (their own bar, closed before the
        # store's), then read like a store.
        if files:
            with files_progress(quiet=not progress) as bar:
                stored = stack.enter_context(stored_from_files(files, fmt, target,
                                                               progress=bar))
        else:
            stored = open_stored(config.store_dir(store), target)
        if not stored.has_usage:
            # Known containers without usage (all exited, or never scraped) still get their
            # rows and their findings.
            data = load_inputs(None, None, stored.store.root, target)
            data.notes, data.errors = [*stored.notes, *data.notes], list(stored.errors)
            outcome = build_report(data, target=str(target), now=now, strategy=strategy,
                                   top=top, nodes=nodes, shapes=shapes, since=since)
        else:  # rollups and day-by-day reads, never every sample at once
            with DayProgress("reading the store", progress) as on_day:
                outcome = build_stored_report(stored, now=now, strategy=strategy, top=top,
                                              nodes=nodes, shapes=shapes, since=since,
                                              on_day=on_day)
        errors = list(stored.errors)
    return outcome, errors
