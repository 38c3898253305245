"""diagnose, plan and report from a store, day by day, give exactly what the whole-frame path
gives (docs/architecture.md, "The store"): on the bundled sample and on a generated history
with leaks, OOM kills, a crash loop, throttling and a pod replaced mid-way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quotatune.analysis.findings.diagnose import diagnose as find
from quotatune.model import Target
from quotatune.model.collected import Collected
from quotatune.pipelines.diagnose import DiagnosePolicy, from_store
from quotatune.pipelines.inputs import load_inputs, open_store
from quotatune.pipelines.plan import plan_capacity, plan_inputs, recommend_for_plan
from quotatune.pipelines.report import build_report, build_stored_report
from quotatune.pipelines.stored import open_stored
from quotatune.render.plan.data import render_plan_json
from quotatune.sources.registry import import_files
from tests.support.store_data import troubled_fleet

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
NOW = pd.Timestamp("2026-11-17T00:00:00Z")


@pytest.fixture(scope="module")
def troubled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("troubled") / "store"
    usage, events = troubled_fleet()
    open_store(root).append(Collected(usage=usage, events=events))
    return root


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample") / "store"
    open_store(root).append(import_files(sorted(SAMPLE.glob("*.csv.gz")), None))
    return root


def whole_frame_findings(root: Path, target: Target, since: pd.Timedelta | None):
    data = load_inputs(None, None, root, target)
    policy = DiagnosePolicy() if since is None else DiagnosePolicy(since=NOW - since)
    return find(data.usage, data.specs, data.events, now=NOW, policy=policy)


@pytest.mark.parametrize("target", ["", "ops/", "ops/looper/app", "ops/leaky/app"])
@pytest.mark.parametrize("since", [None, pd.Timedelta(hours=30)])
def test_diagnose_from_the_store_equals_the_whole_frame(troubled, target, since):
    t = Target.parse(target)
    old = whole_frame_findings(troubled, t, since)
    new = from_store(troubled, t, now=NOW, since=None if since is None else since.to_pytimedelta())
    assert new == old


def test_the_generated_history_has_every_usage_finding(troubled):
    kinds = {(f.workload, f.kind) for f in from_store(troubled, Target(), now=NOW)}
    assert {("leaky", "memory-growth"), ("grower", "memory-growth"), ("leaky", "oom-killed"),
            ("looper", "crash-loop"), ("throttled", "cpu-throttled")} <= kinds
    assert not {k for k in kinds if k[0] == "calm"}


def test_diagnose_the_sample_from_the_store_equals_the_whole_frame(sample):
    for since in (None, pd.Timedelta(days=3)):
        old = whole_frame_findings(sample, Target(), since)
        assert from_store(sample, Target(), now=NOW,
                          since=None if since is None else since.to_pytimedelta()) == old


@pytest.mark.parametrize("target", ["", "ops/"])
def test_plan_from_the_store_equals_the_whole_frame(troubled, target):
    t = Target.parse(target)
    data = load_inputs(None, None, troubled, t)
    old = plan_capacity(recommend_for_plan(data), data.specs, None, [], events=data.events,
                        usage=data.usage)
    recs, stored = plan_inputs(None, None, troubled, t)
    new = plan_capacity(recs, stored.specs, None, [], events=stored.events, usage=stored.usage)
    assert render_plan_json(new) == render_plan_json(old)


@pytest.mark.parametrize("since", [None, pd.Timedelta(hours=30)])
@pytest.mark.parametrize("store, target", [("troubled", ""), ("troubled", "ops/"),
                                           ("sample", "")])
def test_report_from_the_store_is_the_same_html(store, target, since, request):
    """With ``since``, failures before it are history but the figures cover every day."""
    root = request.getfixturevalue(store)
    t = Target.parse(target)
    window = None if since is None else since.to_pytimedelta()
    old = build_report(load_inputs(None, None, root, t), target=str(t), now=NOW, top=8,
                       shapes=["4cpu/16Gi"], since=window)
    new = build_stored_report(open_stored(root, t), now=NOW, top=8, shapes=["4cpu/16Gi"],
                              since=window)
    assert new.recommendations == old.recommendations
    assert new.findings == old.findings
    assert new.html == old.html
