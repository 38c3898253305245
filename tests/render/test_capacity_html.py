"""The plan's HTML page in Debian's headless Chromium: it draws, fetches nothing, and hostile
names stay text."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from quotatune.analysis.capacity.plan import parse_shape, plan_capacity
from quotatune.model import Current, Recommendation
from quotatune.render.plan.html import render_plan_html
from quotatune.sources.kubernetes.nodes import parse_nodes
from quotatune.sources.kubernetes.parse import parse_pods
from tests.conftest import FIXTURES
from tests.support.chromium import Chromium, Page, chromium_missing, start_chromium

pytestmark = pytest.mark.chromium
CAP = FIXTURES / "capacity"
HOSTILE = "<img src=x onerror=\"window.pwned=1\"></script><b>ns"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Iterator[Page]:
    why = chromium_missing()
    if why:
        pytest.skip(why)
    payload = json.loads((CAP / "honeycomb_pods.json").read_text())
    payload["items"][3]["metadata"]["namespace"] = HOSTILE  # the metallb controller
    specs, _ = parse_pods(payload)
    nodes = parse_nodes(json.loads((CAP / "honeycomb_nodes.json").read_text()))
    nodes.loc[0, "node"] = HOSTILE + "-node"
    recs = [Recommendation(HOSTILE, "controller", "controller", 9000, None, 64, 96, Current(),
                           "test", 100, 48.0, "high", "ok")]
    plan = plan_capacity(recs, specs, nodes, [parse_shape("4cpu/16Gi"),
                                              parse_shape("16cpu/64Gi")])
    f = tmp_path_factory.mktemp("plan") / "plan.html"
    f.write_text(render_plan_html(plan))
    browser: Chromium = start_chromium()
    p = browser.load(f, timeout=120)
    yield p
    p.close()
    browser.close()


def test_the_page_draws_both_figures_without_errors(page: Page):
    assert page.ready
    assert page.exceptions == [] and page.console_errors == []
    assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 2
    # Self-contained: nothing but the file itself was requested.
    assert all(r.startswith("file://") or r.startswith("data:") for r in page.requests)


def test_hostile_names_are_text_not_markup(page: Page):
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    text = page.evaluate("document.body.innerText")
    assert HOSTILE in text  # the Pending row and the quota YAML show it as typed
    assert "Insufficient cpu" in text
