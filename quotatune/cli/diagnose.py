"""quotatune diagnose [TARGET] — what killed containers, what will, and what to change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quotatune.cli.options import FileFormat, NoLogs, StoreDir, TargetArgs

OUTPUTS = ("table", "json")


def command(
    args: TargetArgs = None,
    from_files: Annotated[
        list[Path] | None,
        typer.Option("--from", readable=False,
                     help="Read these files (also hs_err_pid*.log) instead of the "
                     "history store."),
    ] = None,
    fmt: FileFormat = None,
    store: StoreDir = None,
    docker_host: Annotated[
        str | None,
        typer.Option("--docker-host", help="Diagnose a Docker daemon now (running and exited "
                     "containers), e.g. unix:///var/run/docker.sock."),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", help="Diagnose a Kubernetes cluster now (kubeconfig "
                     "context)."),
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="kubeconfig file for --context.")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Only this namespace (--context).")
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table or json.")] = "table",
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity "
                     "(info, warning, critical)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Failures older than this are history (info), e.g. 24h, "
                     "7d; 'all' keeps every failure at its severity (default: 14d)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds per API request (live).")
    ] = 30.0,
    no_logs: NoLogs = False,
) -> None:
    """Find OOM kills, SIGKILLs, JVM and runtime memory failures, heaps that cannot fit their
    limit, crash loops, memory growth, CPU throttling, unschedulable pods and non-ASCII env."""
    import os

    import pandas as pd

    from quotatune.cli import config
    from quotatune.cli.common import split_target_and_files
    from quotatune.cli.output import err
    from quotatune.model import severity_rank
    from quotatune.model.errors import InputError
    from quotatune.pipelines.diagnose import (
        diagnose,
        from_docker,
        from_files_store,
        from_kubernetes,
        from_store,
        parse_since,
        select,
    )
    from quotatune.pipelines.maintenance import without_logs
    from quotatune.render.data import findings_to_json
    from quotatune.render.findings_table import render_findings_table

    if output not in OUTPUTS:
        raise InputError(f"unknown output {output!r}; use one of {', '.join(OUTPUTS)}")
    threshold = severity_rank(fail_on) if fail_on is not None else None
    target, files = split_target_and_files(args or [], from_files)
    sources = [n for n, v in (("--from", files), ("--store", store),
                              ("--docker-host", docker_host), ("--context", context)) if v]
    if len(sources) > 1:
        raise InputError(f"use one source at a time, not {' and '.join(sources)}")
    now = pd.Timestamp.now(tz="UTC")
    window = parse_since(since)
    errors: list[str] = []
    notes: list[str] = []  # what was left out of what was read (duplicates, future times)
    if not (docker_host or context):
        # The store, or the files streamed into a temporary one: read day by day, never
        # every sample at once.
        from quotatune.cli.output import DayProgress, progress

        if files:
            with progress(quiet=output != "table") as bar:
                findings, errors, notes = from_files_store(files, fmt, target, now=now,
                                                           since=window, progress=bar)
        else:
            with DayProgress("reading the store", output == "table") as on_day:
                findings = from_store(config.store_dir(store), target, now=now, since=window,
                                      on_day=on_day)
    else:
        data, notes = from_docker(docker_host, timeout, os.environ, now) if docker_host else \
            from_kubernetes(str(context), kubeconfig, namespace, timeout, now)
        data = select(data, target)
        data = without_logs(data) if no_logs else data
        findings = diagnose(data, now=now, since=window)
        errors = list(data.errors)
    for e in errors:
        err(f"warning: {e}")
    for note in notes:
        err(f"note: {note}")
    if output == "json":
        typer.echo(findings_to_json(findings), nl=False)
    else:
        typer.echo(render_findings_table(findings), nl=False)
    if threshold is not None and any(severity_rank(f.severity) >= threshold for f in findings):
        raise typer.Exit(1)
