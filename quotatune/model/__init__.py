"""The model: canonical frames, result types, units, names and errors.

Every other layer imports it; it imports nothing of quotatune above it
(docs/architecture.md, "Layers").  The names below are the model's public face, so that
``from quotatune import model`` and ``model.Recommendation`` read the same everywhere.
"""

from quotatune.model.collected import Collected
from quotatune.model.errors import InputError, SourceError
from quotatune.model.frames import (
    EVENT_COLUMNS,
    KEY_COLUMNS,
    MAX_VALUE,
    NS_PER_UNIT,
    SPEC_COLUMNS,
    TIME_SPAN_NS,
    USAGE_COLUMNS,
    USAGE_OPTIONAL_FLOAT,
    USAGE_OPTIONAL_STR,
    USAGE_REQUIRED,
    empty_events,
    empty_specs,
    empty_usage,
    validate_usage,
)
from quotatune.model.names import workload_from_pod
from quotatune.model.results import (
    SEVERITIES,
    ContainerKey,
    Current,
    Finding,
    Recommendation,
    Result,
    Target,
    format_time,
    severity_rank,
)
from quotatune.model.times import utc_ns

__all__ = [
    "EVENT_COLUMNS", "KEY_COLUMNS", "MAX_VALUE", "NS_PER_UNIT", "SEVERITIES", "SPEC_COLUMNS",
    "TIME_SPAN_NS", "USAGE_COLUMNS",
    "USAGE_OPTIONAL_FLOAT", "USAGE_OPTIONAL_STR", "USAGE_REQUIRED", "Collected", "ContainerKey",
    "Current", "Finding", "InputError", "Recommendation", "Result", "SourceError", "Target",
    "empty_events", "empty_specs", "empty_usage", "format_time", "severity_rank",
    "utc_ns", "validate_usage", "workload_from_pod",
]
