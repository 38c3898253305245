"""The store's one error (its own module: the history and its day commits both raise it)."""

from __future__ import annotations

from quotatune.model.errors import InputError


class StoreError(InputError):
    """The store cannot be written or read (locked, read-only, full, corrupt)."""
