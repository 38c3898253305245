"""Per-call state of :func:`.collector.collect_docker`: thread pools, previous
readings, where each container's cgroup files are, and the tally of what was missed."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from quotatune.sources.docker.cgroup import (
    DEFAULT_LAYOUTS,
    CgroupFiles,
    find_cgroup,
    find_cgroup_by_id,
    layout_of,
)
from quotatune.sources.docker.parse import InspectInfo, parse_docker_stats
from quotatune.sources.docker.rows import Tally


class Session:
    """State of one ``collect_docker`` call: pools, previous readings, cgroup lookup, tallies."""

    def __init__(self, client: Any, workers: int, use_cgroups: bool, proc_root: Path,
                 cgroup_root: Path, clock: Callable[[], float]) -> None:
        self.api = getattr(client, "api", client)  # a DockerClient or a low-level APIClient
        # Inspect and logs answer in about a millisecond: a few threads are plenty (thread
        # start-up costs more than it saves on a busy host).  Stats calls wait for dockerd's
        # 1 s tick, so they get a wide pool, started only when the API path is needed.
        self.small = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qt-docker")
        self.wide: ThreadPoolExecutor | None = None
        self.workers = workers
        self.use_cgroups = use_cgroups
        self.proc_root, self.cgroup_root = proc_root, cgroup_root
        self.layouts: tuple[str, ...] = DEFAULT_LAYOUTS
        self.clock = clock
        self.prev: dict[str, dict[str, Any]] = {}  # container id -> last parsed reading
        self.started: dict[str, pd.Timestamp | None] = {}
        self.cgroups: dict[str, CgroupFiles | None] = {}
        self.infos: dict[str, InspectInfo] = {}
        self.tally = Tally()
        self.one_shot_ok = True

    def close(self) -> None:
        self.small.shutdown(wait=True)
        if self.wide is not None:
            self.wide.shutdown(wait=True)

    def each(self, fn: Callable[[str], Any], ids: list[str]) -> dict[str, Any]:
        """Run ``fn`` over ids on the small pool; each value is the result or the exception."""
        futures: dict[str, Future[Any]] = {i: self.small.submit(fn, i) for i in ids}
        out: dict[str, Any] = {}
        for i, f in futures.items():
            try:
                out[i] = f.result()
            except Exception as exc:  # recorded per container by the caller
                out[i] = exc
        return out

    def submit_stats(self, cid: str) -> Future[tuple[dict[str, Any], dict[str, Any]]]:
        if self.wide is None:
            self.wide = ThreadPoolExecutor(max_workers=self.workers,
                                           thread_name_prefix="qt-docker-stats")
        return self.wide.submit(self.api_stats, cid)

    def cgroup_by_id(self, cid: str) -> CgroupFiles | None:
        if not self.use_cgroups:
            return None
        if self.cgroups.get(cid) is None:
            self.cgroups[cid] = find_cgroup_by_id(cid, self.layouts,
                                                  cgroup_root=self.cgroup_root)
        return self.cgroups[cid]

    def cgroup_by_pid(self, info: InspectInfo) -> CgroupFiles | None:
        if not self.use_cgroups:
            return None
        found = find_cgroup(info.pid, info.id, proc_root=self.proc_root,
                            cgroup_root=self.cgroup_root)
        if found is not None:
            self.cgroups[info.id] = found
            layout = layout_of(found, info.id, self.cgroup_root)
            if layout and layout not in self.layouts:
                self.layouts = (layout, *self.layouts)  # a custom --cgroup-parent
        return found

    def api_stats(self, cid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The raw stats payload and its reading (rated against the previous one, if any)."""
        # With a previous reading one tick is enough (one-shot); without, dockerd waits a
        # second tick and fills precpu_stats so the rate comes from this one call.
        if cid in self.prev and self.one_shot_ok:
            try:
                payload = self.api.stats(cid, stream=False, one_shot=True)
            except Exception as exc:
                if type(exc).__name__ != "InvalidVersion":
                    raise
                self.one_shot_ok = False  # API older than 1.41
                payload = self.api.stats(cid, stream=False)
        else:
            payload = self.api.stats(cid, stream=False)
        return payload, parse_docker_stats(payload, self.prev.get(cid))
