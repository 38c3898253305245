"""Options several commands share, declared once so their flags and help read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

TargetArgs = Annotated[
    list[str] | None,
    typer.Argument(help="TARGET: ns/, ns/workload or ns/workload/container (default: all)."),
]
# readable=False: typer's own check stopped the whole command at the first unreadable file
# ("path 'x.csv' is not readable"); the readers skip it with a warning and read the others,
# as they do a missing file.
FromFiles = Annotated[
    list[Path] | None,
    typer.Option("--from", readable=False, help="Read these files instead of the history store."),
]
FileFormat = Annotated[str | None, typer.Option("--format", help="Format of --from files.")]
StoreDir = Annotated[
    Path | None,
    typer.Option("--store", help="History store (default ./data, QUOTATUNE_STORE)."),
]
NowText = Annotated[
    str | None,
    typer.Option("--now", hidden=True, help="Clock override (RFC 3339), for tests and backfills."),
]
KeepDays = Annotated[
    int | None,
    typer.Option("--keep-days", min=1, max=36_500,
                 help="Afterwards drop stored days, events and specs older than this many days."),
]
NoLogs = Annotated[
    bool,
    typer.Option("--no-logs", help="Keep no log lines at all (exit codes and reasons only)."),
]
MaxSamplesPerQuery = Annotated[
    int | None,
    typer.Option("--max-samples-per-query", help="Prometheus: the most samples one query may "
                 "hold on the server (default 5000000, a tenth of Prometheus' own limit); "
                 "larger queries are split, and so are those the server refuses."),
]
MaxConcurrency = Annotated[
    int | None,
    typer.Option("--max-concurrency", help="Prometheus: queries in flight at once (default 4)."),
]
Strategy = Annotated[
    str | None, typer.Option("--strategy", help="Strategy name (default: the default).")
]
# Reading from Prometheus: the same flags on every command that does (recommend, serve).
PromWindow = Annotated[
    str | None, typer.Option("--window", help="History for --prometheus (default 14d).")
]
PromStep = Annotated[
    str | None, typer.Option("--step", help="Resolution for --prometheus (default 1m).")
]
TokenFile = Annotated[
    Path | None, typer.Option("--token-file", help="Bearer token file for --prometheus.")
]
TokenEnv = Annotated[
    str | None, typer.Option("--token-env", help="Bearer token variable for --prometheus.")
]
Headers = Annotated[
    list[str] | None, typer.Option("--header", help="Extra HTTP header NAME:VALUE.")
]
CaFile = Annotated[Path | None, typer.Option("--ca-file", help="CA bundle for TLS.")]
InsecureSkipVerify = Annotated[bool, typer.Option("--insecure-skip-verify")]
