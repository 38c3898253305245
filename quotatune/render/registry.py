"""Explicit registry of recommendation renderers for ``-o``.

A renderer takes the recommendations and the spec frame (patches need workload kinds)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from quotatune.model import Recommendation
from quotatune.render import data, table
from quotatune.render.patch import commands as patch

Renderer = Callable[[list[Recommendation], "pd.DataFrame | None"], str]

RENDERERS: dict[str, Renderer] = {
    "table": lambda recs, specs: table.render_table(recs),
    "json": lambda recs, specs: data.to_json(recs),
    "yaml": lambda recs, specs: data.to_yaml(recs),
    "csv": lambda recs, specs: data.to_csv(recs),
    "patch": patch.render_patch,
}
