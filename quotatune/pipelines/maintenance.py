"""Store upkeep shared by every writer: file modes, retention, the record of each collection,
and the ``prune`` and ``status`` commands' flows.  See docs/architecture.md, "The store"."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from quotatune.model.collected import Collected
from quotatune.pipelines.inputs import existing_store, open_store
from quotatune.store import AppendReport, inventory, modes, retention
from quotatune.store.inventory import Status
from quotatune.store.retention import PruneReport

__all__ = ["PruneReport", "Status", "after_write", "configure_modes", "prune", "status",
           "without_logs"]


def configure_modes(*, group_readable: bool) -> None:
    """Owner-only (0600/0700) unless the user opted in to group-readable (0640/0750)."""
    modes.configure(group_readable=group_readable)


def after_write(root: Path, source: str, rep: AppendReport, keep_days: int | None,
                now: pd.Timestamp | None = None) -> PruneReport | None:
    """Record the collection for ``status``, then apply ``--keep-days`` counted back from now."""
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    st = open_store(root)
    inventory.record_collection(st, source, now, samples=rep.samples_added,
                                events=rep.events_added)
    return None if keep_days is None else retention.prune(st, keep_days, now)


def prune(root: Path, keep_days: int, now: datetime | None = None) -> PruneReport:
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return retention.prune(existing_store(root), keep_days, now)


def status(root: Path) -> Status:
    return inventory.status(existing_store(root))


def without_logs(data: Collected) -> Collected:
    """``--no-logs``: no log line is kept at all, not even redacted.  Log events go, and so do
    the messages of terminations and waits, which Kubernetes fills with the log's tail
    (terminationMessagePolicy FallbackToLogsOnError); exit codes and reasons stay."""
    ev = data.events
    if not ev.empty:
        ev = ev[ev["kind"] != "log"].copy()
        ev.loc[ev["kind"].isin(["termination", "waiting"]), "message"] = ""
        data.events = ev.reset_index(drop=True)
    return data


def retention_line(rep: PruneReport | None) -> str | None:
    """What ``--keep-days`` dropped, for the writer's summary; None when nothing was."""
    if rep is None or not (rep.days or rep.events or rep.specs):
        return None
    return (f"retention: dropped {rep.days} day(s), {rep.events} event(s), {rep.specs} spec "
            f"row(s) before {rep.cutoff}")
