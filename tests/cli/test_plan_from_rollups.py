"""``plan --from`` reads the files streamed into per-day rollups, never every sample: its
outputs are those of the whole-frame path (every sample loaded, recommended from samples)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quotatune.model import Target
from quotatune.pipelines.inputs import load_inputs
from quotatune.pipelines.plan import parse_shape, plan_capacity, recommend_for_plan
from quotatune.render.plan.data import render_plan_json
from tests.cli.test_plan_cli import NODES, PODS, usage_csv
from tests.conftest import ROOT, run_cli

SAMPLE = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))


def whole_frame_plan(files: list[str], target: str | None, shapes: list[str],
                     nodes: str | None = None) -> str:
    """The plan as it was computed before: every sample loaded, recommended from them."""
    from quotatune.sources.kubernetes.nodes import read_nodes_file

    data = load_inputs([Path(f) for f in files], None, None, Target.parse(target))
    plan = plan_capacity(recommend_for_plan(data), data.specs,
                         read_nodes_file(Path(nodes)) if nodes else None,
                         [parse_shape(s) for s in shapes], events=data.events,
                         usage=data.usage)
    return render_plan_json(plan)


@pytest.mark.parametrize(("files", "target", "extra"), [
    (SAMPLE, None, ["--node-shape", "8cpu/32Gi", "--node-shape", "16cpu/64Gi"]),
    (SAMPLE, "bitbrains/vm-1", ["--node-shape", "4cpu/16Gi"]),
])
def test_plan_from_the_bundled_sample_is_the_whole_frame_plan(files, target, extra):
    run = run_cli("plan", *([target] if target else []), "--from", *files, *extra, "-o", "json")
    assert run.code == 0, run.stderr
    assert run.stdout == whole_frame_plan(files, target, extra[1::2])


def test_plan_from_usage_and_pods_with_nodes_is_the_whole_frame_plan(tmp_path: Path):
    """Pods of a captured cluster and two days of usage: the running pods are counted from
    each pod's last sample in its rollups, as from the samples."""
    files = [str(usage_csv(tmp_path / "usage.csv")), PODS]
    run = run_cli("plan", "--from", *files, "--nodes", NODES, "-o", "json")
    assert run.code == 0, run.stderr
    assert run.stdout == whole_frame_plan(files, None, [], NODES)
