"""Owner-only files: everything quotatune writes is 0600 and every directory 0700.

See docs/architecture.md, "The store".  The store and the reports hold log lines, args and
image names, so nobody else on the host should read them.  Modes are set explicitly on each
file and directory quotatune creates (``fchmod``/``chmod`` after creation), never left to the
umask, and :func:`tighten_tree` brings an older store (written 0644 by earlier versions) down to
the same modes on its next write.

The one opt-in, ``QUOTATUNE_GROUP_READABLE=1`` (resolved by the CLI and set here once per
process, like the umask it replaces), adds group read (0640 / 0750) for a store shared with a
group of operators.  Nothing is ever world-readable or group-writable.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
GROUP_FILE, GROUP_DIR = 0o640, 0o750

_group_readable = False


def configure(*, group_readable: bool) -> None:
    """Set once by the CLI, from QUOTATUNE_GROUP_READABLE."""
    global _group_readable
    _group_readable = group_readable


def file_mode() -> int:
    return GROUP_FILE if _group_readable else PRIVATE_FILE


def dir_mode() -> int:
    return GROUP_DIR if _group_readable else PRIVATE_DIR


def make_dir(path: Path) -> None:
    """``mkdir -p`` whose created directories get :func:`dir_mode` whatever the umask; an
    existing directory the user made (``--store /srv/qt``) keeps its mode unless it is ours."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=dir_mode())
    for d in missing:
        with contextlib.suppress(OSError):
            os.chmod(d, dir_mode())


def fix_fd(fd: int) -> None:
    os.fchmod(fd, file_mode())


def fix_path(path: Path) -> None:
    os.chmod(path, file_mode())


def open_private(path: Path, flags: int) -> int:
    """``os.open`` with :func:`file_mode`, then ``fchmod``: the umask cannot widen or narrow it,
    and a file that already existed with a wider mode is tightened."""
    fd = os.open(path, flags, file_mode())
    try:
        fix_fd(fd)
    except OSError:
        os.close(fd)
        raise
    return fd


def tighten_tree(root: Path, names: tuple[str, ...]) -> int:
    """Bring ``root`` and quotatune's own entries under it (``names``, recursively) to the
    current modes; returns how many were changed.  Anything else there — input files a user
    keeps beside the store — keeps its mode (the private root still hides it), and files of
    other owners are left alone (chmod would fail)."""
    changed = 0
    want_f, want_d = file_mode(), dir_mode()
    uid = os.getuid()
    with contextlib.suppress(OSError):
        st = os.lstat(root)
        if st.st_uid == uid and stat.S_IMODE(st.st_mode) != want_d:
            os.chmod(root, want_d)
            changed += 1
    for name in names:
        top = root / name
        if not top.exists():
            continue
        walk = os.walk(top) if top.is_dir() else [(str(root), [], [name])]
        for dirpath, _, filenames in walk:
            entries = ([(dirpath, want_d)] if Path(dirpath) != root else []) + [
                (os.path.join(dirpath, f), want_f) for f in filenames]
            for p, want in entries:
                try:
                    st = os.lstat(p)
                    if stat.S_ISLNK(st.st_mode) or st.st_uid != uid:
                        continue
                    if stat.S_IMODE(st.st_mode) != want:
                        os.chmod(p, want)
                        changed += 1
                except OSError:
                    continue  # a file renamed away by a concurrent reader's retry; harmless
    return changed
