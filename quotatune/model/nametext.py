"""What a name may hold, and how text from outside is shown.

Namespace, workload, pod, container and node names come from files and clusters.  No
platform allows the characters of :data:`UNSAFE` in one (Kubernetes names are DNS labels and
subdomains; Docker's are letters, digits and ``_.-``), but an imported CSV can hold any, and
such a name printed to a terminal or put in a report can move the cursor, restyle the text,
or reorder it so that it reads as another name.  A ``/`` in a namespace, workload or
container name would make ``ns/workload/container`` mean two things.  So names are refused
where data enters (:func:`name_fault`, :func:`first_bad_name`, :func:`check_names`); text
that reaches an output anyway (a store written by an older version, a log line, a file
name) is shown with those characters escaped (:func:`shown`).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from quotatune.model.errors import InputError

# The C0 and C1 controls and DEL (a newline or ESC breaks out of a table row or restyles the
# terminal); the format characters, Unicode category Cf (the bidirectional embeddings,
# overrides, isolates and marks reorder the text around them, so "pay\u202egnp.exe" reads
# "payexe.png"; the zero-width ones make two names look alike); and the line and paragraph
# separators.  tests/model/test_nametext.py holds this list to Python's Unicode database.
_RANGES = (
    (0x00, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
    (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F),
    (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)
_CLASS = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "")
                 for a, b in _RANGES)
UNSAFE = re.compile(f"[{_CLASS}]")
# The parts of a TARGET may not hold its separator either.
UNSAFE_IN_TARGET_PART = re.compile(f"[{_CLASS}/]")
TARGET_PARTS = ("namespace", "workload", "container")
# The same classes for text known to be ASCII: a search of a chunk's joined names through
# the whole class above is 6x slower (its ranges past U+FFFF leave the regex engine no
# table to look characters up in), and names are ASCII all but always.
UNSAFE_ASCII = re.compile(r"[\x00-\x1f\x7f]")
UNSAFE_ASCII_IN_TARGET_PART = re.compile(r"[\x00-\x1f\x7f/]")
# A node is named in plans, findings and the store as a pod is: the same characters are
# refused (a '/' only where it would split a TARGET).
NAME_COLUMNS = ("namespace", "workload", "pod", "container", "node")


def escaped(ch: str) -> str:
    """One character as Python writes it in a string literal: ``\\x1b``, ``\\u202e``."""
    c = ord(ch)
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}"


def shown(text: str, keep: str = "") -> str:
    """``text`` with every character of :data:`UNSAFE` (but those in ``keep``) written as its
    escape, so that it shows as itself and acts on nothing around it."""
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(lambda m: m.group() if m.group() in keep else escaped(m.group()), text)


def name_fault(name: str, column: str) -> str | None:
    """Why ``name`` cannot be a name in ``column``, in words for an error line; None if it
    can."""
    m = (UNSAFE_IN_TARGET_PART if column in TARGET_PARTS else UNSAFE).search(name)
    if m is None:
        return None
    ch = m.group()
    if ch == "/":
        return (f"name {name[:60]!r} holds '/', the separator of ns/workload/container, "
                "which no platform allows in a name")
    what = unicodedata.name(ch, "a control character").lower()
    # repr() writes every such character as its escape, so the line shows what is there.
    return (f"name {name[:60]!r} holds {escaped(ch)} ({what}), which no platform allows "
            "in a name")


def first_bad_name(s: pd.Series, column: str) -> tuple[int, str] | None:
    """The position of the first name in ``s`` that ``column`` cannot hold, and why; None if
    every one can.  A categorical column is checked through its categories."""
    pattern = UNSAFE_IN_TARGET_PART if column in TARGET_PARTS else UNSAFE
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories.astype(str)
        bad_cat = np.asarray(cats.str.contains(pattern, regex=True), dtype=bool)
        if not bad_cat.any():
            return None
        codes = s.cat.codes.to_numpy()
        bad = (codes >= 0) & bad_cat[codes]
    else:
        text = s.astype("string").fillna("")
        bad = text.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)
    if not bad.any():
        return None
    pos = int(np.flatnonzero(bad)[0])
    return pos, name_fault(str(s.iloc[pos]), column) or "bad name"


def check_names(df: pd.DataFrame | None, source: str) -> None:
    """Refuse a frame (specs, events, nodes) whose name columns hold what no name may, with
    one line naming ``source``, the column and the name."""
    if df is None or df.empty:
        return
    for column in NAME_COLUMNS:
        if column in df.columns:
            bad = first_bad_name(df[column], column)
            if bad is not None:
                raise InputError(f"{source}: column {column!r}: {bad[1]}")
