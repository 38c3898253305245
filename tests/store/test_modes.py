"""Everything the store writes is owner-only whatever the umask, an older store is tightened
on its next write, and QUOTATUNE_GROUP_READABLE opts in to group-readable
(docs/architecture.md, "The store")."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from quotatune.model.collected import Collected
from quotatune.store import modes
from quotatune.store.history import Store
from tests.conftest import run_cli
from tests.store.test_store import usage


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_a_new_store_is_owner_only_even_with_umask_zero(tmp_path: Path, loose_umask) -> None:
    root = tmp_path / "store"
    Store(root).append(Collected(usage=usage(2, 3 * 1440)))
    written = [root, *root.rglob("*")]
    assert (root / ".lock") in written and len(list(root.glob("usage/day=*"))) == 3
    for p in written:
        assert mode_of(p) == (0o700 if p.is_dir() else 0o600), (p, oct(mode_of(p)))


def test_an_old_world_readable_store_is_tightened_on_the_next_write(tmp_path: Path) -> None:
    st = Store(tmp_path / "store")
    st.append(Collected(usage=usage(1, 2 * 1440)))
    for p in [tmp_path / "store", *(tmp_path / "store").rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)  # what older versions wrote
    st.append(Collected(usage=usage(1, 10, start="2026-12-01T00:00:00Z", ns="new")))
    for p in [tmp_path / "store", *(tmp_path / "store").rglob("*")]:
        assert mode_of(p) == (0o700 if p.is_dir() else 0o600), p


def test_the_opt_in_makes_files_group_readable_never_group_writable(tmp_path: Path) -> None:
    modes.configure(group_readable=True)
    try:
        Store(tmp_path / "store").append(Collected(usage=usage(1, 100)))
    finally:
        modes.configure(group_readable=False)
    for p in [tmp_path / "store", *(tmp_path / "store").rglob("*")]:
        assert mode_of(p) == (0o750 if p.is_dir() else 0o640), p


def test_import_tightens_a_0644_store_and_the_env_opt_in_reaches_the_cli(tmp_path: Path
                                                                          ) -> None:
    csv = tmp_path / "u.csv"
    usage(1, 60).assign(timestamp=lambda d: d["timestamp"].dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    store = tmp_path / "store"
    assert run_cli("import", str(csv), "--store", str(store)).code == 0
    for p in [store, *store.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    r = run_cli("import", str(csv), "--store", str(store))
    assert r.code == 0, r.stderr
    assert {mode_of(p) for p in store.rglob("*") if p.is_file()} == {0o600}
    r = run_cli("import", str(csv), "--store", str(store),
                env={"QUOTATUNE_GROUP_READABLE": "1"})
    assert r.code == 0, r.stderr
    assert {mode_of(p) for p in store.rglob("*") if p.is_file()} == {0o640}
    assert mode_of(store) == 0o750


def test_files_beside_the_store_that_quotatune_did_not_write_keep_their_modes(
        tmp_path: Path) -> None:
    """The default store ``./data`` also holds the bundled sample: tightening an older store
    touches the store's own entries (and its private root), never the user's files there."""
    root = tmp_path / "data"
    (root / "sample").mkdir(parents=True)
    trace = root / "sample" / "1.csv.gz"
    trace.write_bytes(b"x")
    os.chmod(root / "sample", 0o755)
    os.chmod(trace, 0o644)
    Store(root).append(Collected(usage=usage(1, 60)))
    Store(root).append(Collected(usage=usage(1, 120)))
    assert (mode_of(root / "sample"), mode_of(trace)) == (0o755, 0o644)
    assert (mode_of(root), mode_of(root / ".lock")) == (0o700, 0o600)
    assert all(mode_of(p) in (0o600, 0o700) for p in (root / "usage").rglob("*"))
