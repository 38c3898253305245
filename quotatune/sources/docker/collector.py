"""Sample running Docker containers and inspect exited ones (read-only Engine API calls only).

One round: list the running containers, inspect them (limits, restart count, compose labels,
main pid), then read each one's CPU and memory counters - from its cgroup files when the
collector runs on the Docker host (microseconds), else from ``/containers/{id}/stats`` through
a thread pool (dockerd answers those on its 1 s tick, so they are issued concurrently).  The
CPU rate needs two counter readings: later rounds use the previous round's; a container seen
for the first time is read again after ``cpu_window`` seconds (cgroup files) or asked for
stats with ``precpu`` filled (API).  Faults never stop a round: a container that vanishes, a
garbled payload or a daemon that stops answering is recorded in ``Collected.errors`` and what
was read is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune import model
from quotatune.model.collected import Collected
from quotatune.model.errors import InputError
from quotatune.model.nametext import name_fault
from quotatune.model.redact import redact
from quotatune.sources.docker.cgroup import CgroupFiles, read_cgroup_stats
from quotatune.sources.docker.parse import InspectInfo, parse_docker_stats, parse_inspect
from quotatune.sources.docker.rows import (
    DaemonGone,
    classify,
    describe,
    event_rows,
    spec_row,
    usage_frame,
    usage_row,
)
from quotatune.sources.docker.session import Session

SOURCE = "docker"


def collect_docker(
    client: Any,
    *,
    rounds: int = 1,
    interval: float = 1.0,
    include_exited: bool = True,
    log_tail: int = 50,
    filters: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    cpu_window: float = 0.5,
    use_cgroups: bool = True,
    proc_root: Path = Path("/proc"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    max_workers: int = 64,
    on_round: Callable[[int, int], None] | None = None,
) -> Collected:
    """Usage rows (platform "docker"), spec rows and exit events from one Docker daemon.

    ``rounds`` samples ``interval`` seconds apart; ``filters`` are Engine list filters
    ({"label": ["app=web"], "name": ["api"]}).  ``clock`` (epoch seconds) stamps cgroup
    readings; ``sleep`` waits between rounds; ``on_round(done, rounds)`` is called after each
    (a progress bar).  Only GET endpoints are called.
    """
    if rounds < 1:
        raise InputError(f"--rounds must be at least 1, not {rounds}")
    if interval < 0 or cpu_window <= 0:
        raise InputError("--interval must be >= 0 and the CPU window > 0")
    s = Session(client, max_workers, use_cgroups, proc_root, cgroup_root, clock)
    out = Collected()
    rows: list[dict[str, Any]] = []
    node = ""
    try:
        try:
            node = str(s.api.info().get("Name") or "")
            if name_fault(node, "node"):  # a hostname set to anything: rather no node name
                node = ""
        except Exception as exc:
            out.errors.append(f"cannot reach the Docker daemon: {describe(exc)}")
            return out
        start = time.monotonic()
        daemon_up = True
        for r in range(rounds):
            if r:
                sleep(max(0.0, start + r * interval - time.monotonic()))
            try:
                got, gone = _round(s, dict(filters or {}), cpu_window, sleep, node)
            except DaemonGone as exc:
                got, gone = [], str(exc)
            rows += got
            if on_round is not None:
                on_round(r + 1, rounds)
            if gone:
                left = rounds - r - 1
                more = f"; {left} later round(s) not run" if left else ""
                out.errors.append(f"round {r + 1}: {gone}{more}")
                daemon_up = False
                break
        if include_exited and daemon_up:
            _exited(s, dict(filters or {}), log_tail, node, out)
    finally:
        s.close()
    out.errors[:0] = s.tally.errors()
    out.notes.extend(s.tally.notes())
    if rows:
        out.usage = usage_frame(rows)
    specs = [spec_row(i, node, SOURCE) for i in s.infos.values()]
    if specs:
        out.specs = pd.DataFrame(specs, columns=model.SPEC_COLUMNS)
    return out


def _list(s: Session, filters: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    try:
        listing = s.api.containers(filters=filters, **kw)
    except Exception as exc:
        if classify(exc) == "daemon":
            raise DaemonGone(f"the Docker daemon stopped answering: {describe(exc)}") from None
        raise DaemonGone(f"cannot list containers: {describe(exc)}") from None
    return [c for c in listing if isinstance(c, dict) and isinstance(c.get("Id"), str)]


def _inspect(s: Session, ids: list[str], names: dict[str, str]) -> dict[str, InspectInfo]:
    got: dict[str, InspectInfo] = {}
    for cid, res in s.each(lambda i: parse_inspect(s.api.inspect_container(i)), ids).items():
        if isinstance(res, BaseException):
            s.tally.failed(names.get(cid, cid[:12]), "inspect", res)
        else:
            got[cid] = res
    return got


def _round(s: Session, filters: dict[str, Any], cpu_window: float,
           sleep: Callable[[float], None], node: str) -> tuple[list[dict[str, Any]], str | None]:
    """One sampling round: the usage rows, and why the daemon stopped answering if it did.

    Counters are read first, for every container whose cgroup is found from its id, so that
    the inspect calls run inside the CPU-rate window instead of before it."""
    listing = _list(s, filters)
    names = {c["Id"]: _name(c) for c in listing}
    readings: dict[str, dict[str, Any]] = {}
    first_read: dict[str, float] = {}  # monotonic time of the reading a rate starts from
    files = {cid: f for cid in names if (f := s.cgroup_by_id(cid)) is not None}
    _read_cgroups(s, files, names, readings, first_read)
    # The rest go to the stats API now, so dockerd's tick passes while we inspect.
    pending = {cid: s.submit_stats(cid) for cid in names if cid not in files}
    infos = _inspect(s, list(names), names)
    running: dict[str, InspectInfo] = {}
    restarted: set[str] = set()
    for cid, info in infos.items():
        s.infos[cid] = info
        if not info.running:
            s.tally.vanished(info.name, "stopped between listing and reading")
            readings.pop(cid, None)
            continue
        running[cid] = info
        if s.started.get(cid, info.started_at) != info.started_at:
            # Restarted since the last round: its counters restarted with it.
            s.prev.pop(cid, None)
            s.tally.restarts += 1
            restarted.add(cid)
            if cid in readings:
                readings[cid] = {**readings[cid], "cpu_cores": None}
                first_read[cid] = time.monotonic()
        s.started[cid] = info.started_at
        if cid not in files:
            s.cgroup_by_pid(info)  # learns a custom --cgroup-parent for the next rounds
    for cid in list(readings):
        if cid not in running:
            readings.pop(cid)  # inspect failed or it stopped: recorded above
    again = {cid: f for cid, f in files.items()
             if cid in readings and readings[cid]["cpu_cores"] is None}
    if again:
        sleep(max(0.0, max(first_read[c] for c in again) + cpu_window - time.monotonic()))
        _read_cgroups(s, again, names, readings, first_read)
    for cid, fut in pending.items():
        try:
            payload, reading = fut.result()
        except Exception as exc:
            if cid in running:
                s.tally.failed(running[cid].name, "stats", exc)
            continue
        if cid in running:
            # A restart seen by inspect: the previous reading belongs to the old process.
            readings[cid] = parse_docker_stats(payload) if cid in restarted else reading
    for cid, info in running.items():
        if cid not in readings and cid not in pending:
            s.tally.vanished(info.name, "its cgroup went away while being read")
    s.tally.cgroup_reads += len(files)
    s.tally.api_reads += len(pending)
    rows = []
    for cid, rd in readings.items():
        if cid not in running:
            continue
        s.prev[cid] = rd
        if rd["counter_reset"]:
            s.tally.counter_resets += 1
        if rd["cpu_cores"] is None or rd["memory_working_set_bytes"] is None:
            s.tally.no_rate.append(f"{running[cid].name} ({rd['cpu_note']})")
            continue
        rows.append(usage_row(running[cid], rd, node))
    missed = s.tally.take_daemon_failures()
    if missed:
        return rows, (
            f"the Docker daemon stopped answering ({s.tally.daemon_reason}); "
            f"{len(missed)} container(s) not read: {', '.join(sorted(missed)[:10])}; "
            f"kept {len(rows)} sample(s) read before it did"
        )
    return rows, None


def _read_cgroups(s: Session, files: dict[str, CgroupFiles], names: dict[str, str],
                  readings: dict[str, dict[str, Any]], first_read: dict[str, float]) -> None:
    """Read cgroup counters into ``readings`` (rate against the last reading, if any)."""
    for cid, f in files.items():
        try:
            payload = read_cgroup_stats(f, cid, names.get(cid, cid[:12]), s.clock())
            prev = readings.get(cid) or s.prev.get(cid)
            rd = parse_docker_stats(payload, prev)
        except (OSError, ValueError, KeyError, InputError):
            # The cgroup went away between listing and reading: the container stopped.
            # Whether it vanished is settled by inspect; the API path is not retried.
            s.cgroups.pop(cid, None)
            readings.pop(cid, None)
            continue
        readings[cid] = rd
        first_read.setdefault(cid, time.monotonic())
        if rd["counter_reset"]:
            first_read[cid] = time.monotonic()


def _exited(s: Session, filters: dict[str, Any], log_tail: int, node: str,
            out: Collected) -> None:
    try:
        listing = _list(s, {**filters, "status": ["exited", "dead"]}, all=True)
    except DaemonGone as exc:
        out.errors.append(redact(f"exited containers: {exc}"))
        return
    names = {c["Id"]: _name(c) for c in listing}
    infos = _inspect(s, list(names), names)

    def logs(cid: str) -> bytes:
        if log_tail <= 0:
            return b""
        data: bytes = s.api.logs(cid, stdout=True, stderr=True, timestamps=True, tail=log_tail)
        return data

    logged = s.each(logs, list(infos))
    frames = []
    for cid, info in infos.items():
        s.infos[cid] = info
        raw = logged.get(cid, b"")
        if isinstance(raw, BaseException):
            s.tally.failed(info.name, "logs", raw)
            raw = b""
        frames.append(event_rows(info, raw, log_tail, SOURCE))
    out.events = pd.concat([f for f in frames if not f.empty] or [model.empty_events()],
                           ignore_index=True)
    s.tally.exited = len(infos)


def _name(listing_entry: dict[str, Any]) -> str:
    names = listing_entry.get("Names") or []
    first = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    return first.lstrip("/") or str(listing_entry["Id"])[:12]
