"""render/metrics.py: recommendations and findings as metric families in base units, with
unknown values left out, label values escaped by prometheus_client, and an exposition that
promtool accepts."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from quotatune.model import Current, Finding, Recommendation
from quotatune.render.metrics import EXPORTED, SIZING, Refresh, metric_families
from tests.support.prometheus import PROMTOOL

HOSTILE = 'we"ird\\ns\nx'  # a quote, a backslash and a newline


def rec(ns: str = "shop", cpu: int | None = 250, mem: int | None = 512,
        limit: int | None = 640, current: Current | None = None) -> Recommendation:
    return Recommendation(ns, "web", "app", cpu, None, mem, limit,
                          current or Current(1000, 2048, 4096), "krr", 4032, 336.0, "high", "ok")


def finding(kind: str, severity: str, ns: str = "shop") -> Finding:
    return Finding(ns, "web", "app", kind, severity, "2026-11-27T22:52:19Z", ("exit 137",), "…")


class Families:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        yield from self.families


def exposition(recs, findings, refresh=Refresh(1.8e9, 2.5, 0)) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(metric_families(recs, findings, refresh)))
    return generate_latest(registry).decode()


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_sizes_are_in_cores_and_bytes_with_the_strategy_label():
    got = samples(exposition([rec()], []))
    labels = {"namespace": "shop", "workload": "web", "container": "app", "strategy": "krr"}
    expected = {
        "quotatune_recommended_cpu_request_cores": 0.25,
        "quotatune_recommended_memory_request_bytes": 512 * 2**20,
        "quotatune_recommended_memory_limit_bytes": 640 * 2**20,
        "quotatune_current_cpu_request_cores": 1.0,
        "quotatune_current_memory_request_bytes": 2048 * 2**20,
        "quotatune_current_memory_limit_bytes": 4096 * 2**20,
    }
    for name, value in expected.items():
        assert got[name] == [(labels, value)], name


def test_unknown_values_are_left_out_not_exported_as_zero():
    text = exposition([rec(cpu=None, mem=None, limit=None, current=Current())], [])
    got = samples(text)
    for name in SIZING:
        assert name not in got, name
        assert f"# HELP {name} " in text  # the family is still described
    assert 0.0 not in [v for name, vs in got.items() for _, v in vs if name in SIZING]


def test_partly_known_current_exports_only_what_is_known():
    got = samples(exposition([rec(current=Current(cpu_request_millicores=500))], []))
    assert [v for _, v in got["quotatune_current_cpu_request_cores"]] == [0.5]
    assert "quotatune_current_memory_limit_bytes" not in got


def test_label_values_survive_quotes_backslashes_and_newlines():
    text = exposition([rec(ns=HOSTILE)], [finding("oom-killed", "critical", ns=HOSTILE)])
    assert '\\"' in text and "\\n" in text and "\\\\" in text  # escaped in the text format
    got = samples(text)
    assert got["quotatune_recommended_cpu_request_cores"][0][0]["namespace"] == HOSTILE
    assert got["quotatune_findings"][0][0]["namespace"] == HOSTILE


def test_findings_are_counted_by_kind_and_severity():
    fs = [finding("oom-killed", "critical"), finding("oom-killed", "critical"),
          finding("oom-killed", "info"), finding("cpu-throttled", "warning")]
    got = {(lb["kind"], lb["severity"]): v for lb, v in samples(exposition([], fs))
           ["quotatune_findings"]}
    assert got == {("oom-killed", "critical"): 2, ("oom-killed", "info"): 1,
                   ("cpu-throttled", "warning"): 1}


def test_before_the_first_refresh_only_the_error_counter_has_a_value():
    got = samples(exposition([], [], Refresh(None, None, 3)))
    assert got == {"quotatune_refresh_errors_total": [({}, 3.0)]}


def test_after_a_refresh_every_exported_name_is_present_and_nothing_else():
    got = samples(exposition([rec()], [finding("oom-killed", "critical")],
                             Refresh(1_800_000_000.0, 2.5, 1)))
    assert set(got) == set(EXPORTED)
    assert got["quotatune_last_refresh_timestamp_seconds"] == [({}, 1_800_000_000.0)]
    assert got["quotatune_refresh_duration_seconds"] == [({}, 2.5)]


@pytest.mark.prometheus
@pytest.mark.skipif(not PROMTOOL.exists(), reason=f"{PROMTOOL} is not installed")
def test_promtool_check_metrics_is_clean_also_with_hostile_labels_and_empty_families():
    for text in (exposition([rec(ns=HOSTILE)], [finding("oom-killed", "critical")]),
                 exposition([rec(cpu=None, current=Current())], [], Refresh(None, None, 0))):
        r = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
