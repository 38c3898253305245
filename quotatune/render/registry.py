"""Explicit registry of recommendation renderers for ``-o``."""

from __future__ import annotations

from collections.abc import Callable

from quotatune.model import Recommendation
from quotatune.render import data, patch, table

Renderer = Callable[[list[Recommendation]], str]

RENDERERS: dict[str, Renderer] = {
    "table": lambda recs: table.render_table(recs),
    "json": data.to_json,
    "yaml": data.to_yaml,
    "csv": data.to_csv,
    "patch": patch.render_patch,
}
