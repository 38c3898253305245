"""The data contracts: usage validation, workload names, targets and the Recommendation JSON."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotatune.model import (
    USAGE_COLUMNS,
    Current,
    Recommendation,
    Target,
    validate_usage,
    workload_from_pod,
)
from quotatune.model.errors import InputError


def usage(**columns: list[object]) -> pd.DataFrame:
    """Three valid samples; keyword arguments replace or add columns."""
    base: dict[str, list[object]] = {
        "timestamp": ["2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z", "2026-11-20T10:02:00Z"],
        "namespace": ["shop", "shop", "shop"],
        "pod": ["web-7d4b9c8f6d-x2k9p", "web-7d4b9c8f6d-x2k9p", "db-0"],
        "container": ["app", "app", "postgres"],
        "cpu_cores": [0.25, 0.5, 1.0],
        "memory_working_set_bytes": [100e6, 110e6, 2e9],
    }
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def error_of(df: pd.DataFrame, source: str = "usage.csv") -> str:
    with pytest.raises(InputError) as exc:
        validate_usage(df, source)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(source)
    return message


# ------------------------------------------------------------------------------ validate_usage


def test_valid_usage_gets_canonical_columns_dtypes_and_derived_workloads() -> None:
    out = validate_usage(usage(), "usage.csv")
    assert list(out.columns) == USAGE_COLUMNS
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert out["cpu_cores"].dtype == "float64"
    assert out["workload"].tolist() == ["web", "web", "db"]
    assert out["memory_working_set_bytes"].tolist() == [100e6, 110e6, 2e9]


def test_missing_columns_are_named() -> None:
    message = error_of(usage(container=None, cpu_cores=None))
    assert "missing column(s) container, cpu_cores" in message


def test_an_empty_frame_says_there_are_no_samples() -> None:
    assert "no samples" in error_of(usage().iloc[0:0])


@pytest.mark.parametrize("column", ["namespace", "container"])
@pytest.mark.parametrize("empty", ["", "   ", None])
def test_empty_names_give_column_and_row(column: str, empty: object) -> None:
    names: list[object] = ["a", "b", "c"]
    names[1] = empty
    message = error_of(usage(**{column: names}))
    # Row 3 of a CSV file: the header is row 1, the second sample row 3.
    assert f"column {column!r}, row 3: empty name" in message


def test_non_numeric_value_gives_column_row_and_value() -> None:
    message = error_of(usage(memory_working_set_bytes=["1", "2", "12 GB"]))
    assert message == "usage.csv: column 'memory_working_set_bytes', row 4: not a number: '12 GB'"


def test_missing_required_value_gives_its_row() -> None:
    message = error_of(usage(cpu_cores=[0.1, None, 0.3]))
    assert message == "usage.csv: column 'cpu_cores', row 3: missing value"


@pytest.mark.parametrize("bad", [-0.5, float("inf"), float("-inf")])
def test_negative_and_infinite_values_are_refused_with_their_row(bad: float) -> None:
    message = error_of(usage(cpu_cores=[0.1, 0.2, bad]))
    assert f"column 'cpu_cores', row 4: negative, infinite or implausibly large value {bad}" \
        in message


def test_values_too_large_to_be_exact_are_refused() -> None:
    message = error_of(usage(memory_limit_bytes=[1e9, 1e30, None]))
    assert "column 'memory_limit_bytes', row 3: negative, infinite or implausibly large" in message
    assert validate_usage(usage(memory_limit_bytes=[2.0**53, None, None]), "x") is not None


@pytest.mark.parametrize("edge", [0.0, -0.0, 5e-324, 2.0**53])
def test_values_at_the_edges_of_the_range_are_accepted(edge: float) -> None:
    # Zero of either sign, the smallest float above it and the largest exact value: the
    # check that reads a column's bits as integers must agree with the one on floats.
    ok = validate_usage(usage(cpu_cores=[0.1, edge, 0.3], memory_limit_bytes=[edge] * 3), "x")
    assert ok["cpu_cores"].tolist()[1] == edge


@pytest.mark.parametrize("bad", [2.0**53 + 2, -5e-324, -float("nan")])
def test_values_just_past_the_edges_are_refused(bad: float) -> None:
    message = error_of(usage(cpu_cores=[0.1, bad, 0.3]))
    assert "column 'cpu_cores', row 3: " in message


@pytest.mark.parametrize("name, escape", [
    ("x\n# evil: true", "\\x0a"), ("tab\there", "\\x09"), ("esc\x1b[31m", "\\x1b"),
    ("csi\x9b2J", "\\x9b"), ("pay\u202egnp.exe", "\\u202e"), ("w\u200beb", "\\u200b"),
    ("web\u2066", "\\u2066"), ("rlm\u200f", "\\u200f"),
])
def test_control_bidi_and_invisible_characters_in_names_are_refused(name: str,
                                                                    escape: str) -> None:
    for column in ("namespace", "workload", "pod", "container"):
        message = error_of(usage(**{column: ["web", name, "web"]}))
        assert f"column {column!r}, row 3: name {name!r} holds {escape} (" in message
        assert message.endswith("which no platform allows in a name")


@pytest.mark.parametrize("node", ["node-1\x1b]0;owned\x07", "node\u202e-1", "node\r"])
def test_a_node_name_is_held_to_the_same_characters_as_any_name(node: str) -> None:
    message = error_of(usage(node=["node-1", "node-1", node]))
    assert f"column 'node', row 4: name {node!r} holds " in message
    assert validate_usage(usage(node=["node-1", None, "n.example.com"]), "x") is not None


def test_a_slash_is_refused_in_the_parts_of_a_target_but_not_in_a_pod() -> None:
    for column in ("namespace", "workload", "container"):
        message = error_of(usage(**{column: ["web", "web/app", "web"]}))
        assert f"column {column!r}, row 3: name 'web/app' holds '/', the separator of " \
               "ns/workload/container" in message
    given = validate_usage(usage(pod=["a/b", "a/b", "c"], workload=["w", "w", "c"]), "x")
    assert given["pod"].tolist()[0] == "a/b"


@pytest.mark.parametrize("workload", [None, ["web", "", "web"]])
def test_a_workload_derived_from_a_pod_with_a_slash_is_refused_too(workload) -> None:
    """Without a workload, a pod's name gives it: "pay/web-7d4b9c8f6d-x2k9p" would make the
    workload "pay/web", which no TARGET can name (shop/pay/web is another container)."""
    pods = ["web-7d4b9c8f6d-x2k9p", "pay/web-7d4b9c8f6d-x2k9p", "db-0"]
    message = error_of(usage(pod=pods, workload=workload))
    assert "column 'pod', row 3: name 'pay/web-7d4b9c8f6d-x2k9p' gives workload 'pay/web'" \
        " (no workload given), which holds '/', the separator of ns/workload/container" \
        in message


@pytest.mark.parametrize("bad", [1.5, 100.0, -0.25, float("inf"), float("-inf")])
def test_a_throttled_share_outside_zero_to_one_is_refused(bad: float) -> None:
    """The share of CFS periods throttled: a percentage (100.0) or a ratio taken across a
    counter reset is not a share, and the throttling finding must not read one."""
    message = error_of(usage(cpu_throttled_ratio=[0.5, None, bad]))
    assert f"column 'cpu_throttled_ratio', row 4: a share must be from 0 to 1, not {bad}" \
        in message
    ok = validate_usage(usage(cpu_throttled_ratio=[0.0, None, 1.0]), "x")
    assert ok["cpu_throttled_ratio"].tolist()[::2] == [0.0, 1.0]


def test_optional_numeric_columns_are_checked_too() -> None:
    message = error_of(usage(memory_limit_bytes=["1Gi", None, None]))
    assert "column 'memory_limit_bytes', row 2: not a number: '1Gi'" in message
    ok = validate_usage(usage(memory_limit_bytes=[None, 2e9, ""]), "x")
    assert ok["memory_limit_bytes"].isna().tolist() == [True, False, True]


@pytest.mark.parametrize("bad", [-1.0, float("-inf"), float("inf")])
def test_a_bad_optional_value_among_missing_ones_is_refused(bad: float) -> None:
    message = error_of(usage(memory_limit_bytes=[None, bad, None]))
    assert "column 'memory_limit_bytes', row 3: negative, infinite or implausibly large" in message


def test_an_optional_column_with_no_values_at_all_is_fine() -> None:
    ok = validate_usage(usage(memory_limit_bytes=[None, None, None]), "x")
    assert ok["memory_limit_bytes"].isna().all()


def test_booleans_are_not_numbers() -> None:
    assert "not a number" in error_of(usage(cpu_cores=[True, False, True]))


def test_row_offset_maps_positions_to_what_the_user_sees() -> None:
    with pytest.raises(InputError, match=r"row 2: missing value"):
        validate_usage(usage(cpu_cores=[0.1, 0.2, None]), "t.parquet", row_offset=0)


def test_epoch_seconds_and_rfc3339_are_both_accepted() -> None:
    out = validate_usage(
        usage(timestamp=[1764151200, "1764151260", "2026-11-26T10:02:00+01:00"]), "x"
    )
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2025-11-26T10:00:00Z"),
        pd.Timestamp("2025-11-26T10:01:00Z"),
        pd.Timestamp("2026-11-26T09:02:00Z"),
    ]


def test_fractional_epochs_and_nanosecond_rfc3339_keep_their_precision() -> None:
    out = validate_usage(
        usage(timestamp=[1764151200.5, "2026-11-26T10:00:00.123456789Z", "2026-11-26 10:00:00"]),
        "x",
    )
    assert out["timestamp"].iloc[0] == pd.Timestamp("2025-11-26T10:00:00.5Z")
    assert out["timestamp"].iloc[1].nanosecond == 789
    assert out["timestamp"].iloc[2] == pd.Timestamp("2026-11-26T10:00:00Z")


def test_datetime_columns_from_parquet_pass_through_as_utc() -> None:
    ts = pd.to_datetime(["2026-11-20 10:00", "2026-11-20 10:01", "2026-11-20 10:02"])
    out = validate_usage(usage(timestamp=list(ts)), "x.parquet")
    assert out["timestamp"].iloc[0] == pd.Timestamp("2026-11-20T10:00:00Z")


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "now",  # would silently become the wall-clock time
        "today",
        "2a",  # dateutil reads this as 02:00
        "T4",
        "2026-13-01T00:00:00Z",
        "9999-01-01T00:00:00Z",  # outside what a nanosecond timestamp holds
        "1e20",
        "inf",
        "Mon, 23 Nov 2026 10:00:00 GMT",  # RFC 2822 is not RFC 3339
    ],
)
def test_bad_timestamps_name_row_and_value(bad: str) -> None:
    message = error_of(usage(timestamp=["2026-11-20T10:00:00Z", bad, "2026-11-20T10:02:00Z"]))
    assert message.startswith("usage.csv: column 'timestamp', row 3: not an RFC 3339 time")
    assert repr(bad) in message


def test_numeric_timestamps_out_of_range_are_refused() -> None:
    message = error_of(usage(timestamp=[1.7e9, 1e20, 1.7e9]))
    assert "column 'timestamp', row 3" in message


@given(st.lists(st.one_of(st.text(max_size=30), st.floats(), st.integers()), min_size=1,
                max_size=5))
def test_any_timestamp_column_is_parsed_or_refused_with_an_input_error(values: list) -> None:
    n = len(values)
    df = pd.DataFrame(
        {
            "timestamp": pd.Series(values, dtype=object),
            "namespace": ["n"] * n,
            "container": ["c"] * n,
            "cpu_cores": [0.1] * n,
            "memory_working_set_bytes": [1.0] * n,
        }
    )
    try:
        out = validate_usage(df, "fuzz.csv")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert out["timestamp"].notna().all()


# ------------------------------------------------------------------------------- workloads


@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("web-7d4b9c8f6d-x2k9p", "web"),  # Deployment: ReplicaSet hash + pod suffix
        ("coredns-5d78c9869d-8xkqz", "coredns"),
        ("api-server-6b7f5d8c9-wxz2q", "api-server"),
        ("db-0", "db"),  # StatefulSet ordinal
        ("redis-master-12", "redis-master"),
        ("fluentd-8xkqz", "fluentd"),  # DaemonSet: pod suffix only
        ("kube-proxy-7xz2k", "kube-proxy"),
        ("shop-web-1", "shop-web"),  # a compose replica
    ],
)
def test_workload_is_derived_from_generated_pod_names(pod: str, workload: str) -> None:
    assert workload_from_pod(pod) == workload


@pytest.mark.parametrize(
    "name",
    [
        "web",
        "frontend",
        "my-app",
        "node-exporter",
        # Five letters after a dash are not a generated suffix: Kubernetes never uses vowels.
        "log-agent",
        "web-cache",
        "order-queue",
        "fluentd-abcde",
        "web-7d4b9c8f6d",
        "web-v2",
    ],
)
def test_bare_names_are_left_unchanged(name: str) -> None:
    assert workload_from_pod(name) == name


def test_workload_column_wins_and_empty_workloads_are_derived() -> None:
    out = validate_usage(
        usage(workload=["frontend", None, ""], pod=["web-7d4b9c8f6d-x2k9p", "db-0", ""]), "x"
    )
    # The third row has neither workload nor pod: the container name stands in.
    assert out["workload"].tolist() == ["frontend", "db", "postgres"]


# --------------------------------------------------------------------------------- targets


@pytest.mark.parametrize(
    ("text", "parts", "shown"),
    [
        ("shop/", ("shop", None, None), "shop/"),
        ("shop/web", ("shop", "web", None), "shop/web"),
        ("shop/web/app", ("shop", "web", "app"), "shop/web/app"),
        (None, (None, None, None), "(all)"),
        ("", (None, None, None), "(all)"),
    ],
)
def test_targets_parse(text: str | None, parts: tuple, shown: str) -> None:
    t = Target.parse(text)
    assert (t.namespace, t.workload, t.container) == parts
    assert str(t) == shown


@pytest.mark.parametrize("bad", ["shop", "/", "//", "/web", "shop//app", "a/b/c/d", "shop/web/"])
def test_bad_targets_explain_the_three_forms(bad: str) -> None:
    with pytest.raises(InputError) as exc:
        Target.parse(bad)
    assert f"bad target {bad!r}" in str(exc.value)
    assert "ns/workload" in str(exc.value)


@pytest.fixture
def fleet() -> pd.DataFrame:
    return validate_usage(
        pd.DataFrame(
            {
                "timestamp": [1, 2, 3, 4],
                "namespace": ["shop", "shop", "bank", "bank"],
                "workload": ["web", "api", "ledger", "ledger"],
                "container": ["app", "app", "main", "sidecar"],
                "cpu_cores": [1.0, 1.0, 1.0, 1.0],
                "memory_working_set_bytes": [1.0, 1.0, 1.0, 1.0],
            }
        ),
        "fleet",
    )


def test_targets_select_their_rows(fleet: pd.DataFrame) -> None:
    assert len(Target.parse("shop/").select(fleet)) == 2
    assert len(Target.parse("bank/ledger").select(fleet)) == 2
    assert Target.parse("bank/ledger/sidecar").select(fleet)["container"].tolist() == ["sidecar"]
    assert len(Target.parse(None).select(fleet)) == 4


@pytest.mark.parametrize(
    ("typo", "nearest"),
    [
        ("shp/", "shop/"),
        ("shop/wbe", "shop/web"),
        ("bank/ledger/mian", "bank/ledger/main"),
        ("bank/ledgr", "bank/ledger"),
    ],
)
def test_unknown_targets_list_the_nearest_matches(
    fleet: pd.DataFrame, typo: str, nearest: str
) -> None:
    with pytest.raises(InputError) as exc:
        Target.parse(typo).select(fleet)
    message = str(exc.value)
    assert message.startswith(f"no data for target {typo}; nearest: ")
    assert message.split("nearest: ")[1].split(", ")[0] == nearest


def test_a_target_far_from_everything_gets_no_hint(fleet: pd.DataFrame) -> None:
    with pytest.raises(InputError) as exc:
        Target.parse("zzzzzz/").select(fleet)
    assert str(exc.value) == "no data for target zzzzzz/"


# --------------------------------------------------------------------------- recommendation

# The example of the data contract (docs/architecture.md), key for key.
CONTRACT_KEYS = [
    "namespace", "workload", "container",
    "cpu_request_millicores", "cpu_limit_millicores", "memory_request_mib", "memory_limit_mib",
    "current", "strategy", "samples", "history_hours", "confidence", "status", "reasons",
]
CURRENT_KEYS = ["cpu_request_millicores", "memory_request_mib", "memory_limit_mib"]


def recommendation(**changes: object) -> Recommendation:
    fields: dict[str, object] = {
        "namespace": "shop", "workload": "web", "container": "app",
        "cpu_request_millicores": 250, "cpu_limit_millicores": None,
        "memory_request_mib": 512, "memory_limit_mib": 640,
        "current": Current(1000, 2048, 2048), "strategy": "percentile", "samples": 4032,
        "history_hours": 336.0, "confidence": "high", "status": "ok",
        "reasons": ("p95 of 4032 samples",), "platform": "kubernetes",
    }
    fields.update(changes)
    return Recommendation(**fields)  # type: ignore[arg-type]


def test_recommendation_json_has_exactly_the_contract_keys() -> None:
    d = recommendation().to_dict()
    assert list(d) == CONTRACT_KEYS
    assert list(d["current"]) == CURRENT_KEYS
    assert "platform" not in d
    assert json.loads(json.dumps(d)) == {
        "namespace": "shop", "workload": "web", "container": "app",
        "cpu_request_millicores": 250, "cpu_limit_millicores": None,
        "memory_request_mib": 512, "memory_limit_mib": 640,
        "current": {"cpu_request_millicores": 1000, "memory_request_mib": 2048,
                    "memory_limit_mib": 2048},
        "strategy": "percentile", "samples": 4032, "history_hours": 336.0,
        "confidence": "high", "status": "ok", "reasons": ["p95 of 4032 samples"],
    }


def test_unknown_currents_are_nulls_and_numpy_numbers_become_plain_json() -> None:
    import numpy as np

    d = recommendation(
        current=Current(), cpu_request_millicores=np.int64(25), samples=np.int64(3),
        history_hours=np.float64(0.25), status="insufficient-data",
    ).to_dict()
    assert d["current"] == {"cpu_request_millicores": None, "memory_request_mib": None,
                            "memory_limit_mib": None}
    assert type(d["cpu_request_millicores"]) is int
    assert type(d["samples"]) is int
    text = json.dumps(d)  # numpy scalars would make this raise
    assert '"history_hours": 0.2' in text


def test_current_has_the_same_three_keys_even_with_a_known_cpu_limit() -> None:
    cur = Current(1000, 2048, 2048, cpu_limit_millicores=2000)
    d = recommendation(current=cur).to_dict()
    assert d["current"] == {"cpu_request_millicores": 1000, "memory_request_mib": 2048,
                            "memory_limit_mib": 2048}


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", None])
def test_typed_times_past_the_nanosecond_span_are_named_not_crashed_on(
        unit: str, tz: str | None) -> None:
    """Parquet keeps times in s, ms or us, which reach far past 1677..2262: there pandas can
    neither compare nor print a Timestamp, so such a value used to end in an internal
    error instead of the row's message."""
    import pyarrow as pa

    per_s = {"s": 1, "ms": 10**3, "us": 10**6}[unit]
    far = (2**63 - 1000) // per_s * per_s
    typed = pa.array([1_795_000_000 * per_s, far, None], pa.timestamp(unit, tz=tz))
    frame = usage(timestamp=typed.to_pandas())
    message = error_of(frame, "t.parquet")
    assert f"row 3: not an RFC 3339 time or epoch seconds in 1677..2262: '{far} {unit}" \
        in message
    frame = usage(timestamp=pa.array([0, None, 0], pa.timestamp(unit, tz=tz)).to_pandas())
    assert "row 3: not an RFC 3339 time or epoch seconds in 1677..2262: 'NaT'" in \
        error_of(frame, "t.parquet")
