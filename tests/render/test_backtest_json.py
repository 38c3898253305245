"""``backtest -o json``: what is computed, shown to each kind's precision, as numbers."""

from __future__ import annotations

import json

from quotatune.render.backtest import render_backtest_json, render_folds_json

NOISY = {"strategy": "tail", "containers": 3, "cores": 12.299999999999999,
         "cpu_slack": 0.30000000000000004, "cpu_over": 0.00012345678901234,
         "mem_gib": 30.80859375, "mem_slack": 0.1 + 0.2, "mem_oom_vms": 1, "left_out": 0}


def test_scores_are_shown_to_their_kinds_precision_and_stay_numbers() -> None:
    text = render_backtest_json([NOISY])
    assert "0.30000000000000004" not in text and "12.299999999999999" not in text
    assert json.loads(text) == [{
        "strategy": "tail", "containers": 3, "cores": 12.3, "cpu_slack": 0.3,
        "cpu_over": 0.000123, "mem_gib": 30.8086, "mem_slack": 0.3, "mem_oom_vms": 1,
        "left_out": 0}]
    assert '"cores": 12.3,' in text and '"mem_oom_vms": 1,' in text


def test_folds_and_their_summary_are_rounded_by_metric_and_a_missing_ratio_stays_null(
        ) -> None:
    fold = {"shape": "7+7", "origin": "2026-11-20", **NOISY, "oom_vs_krr": None,
            "gib_vs_krr": 0.9483326993787244, "cores_vs_krr": 1.0153794342164346}
    summary = [
        {"shape": "7+7", "strategy": "tail", "metric": "cores", "worst": 8.616,
         "median": 8.587499999999999, "best": 8.559, "folds": 2},
        {"shape": "7+7", "strategy": "tail", "metric": "cpu_over", "worst": 0.1 + 0.2,
         "median": 0.0091156797212, "best": 0.0, "folds": 2},
        {"shape": "7+7", "strategy": "tail", "metric": "mem_oom_vms", "worst": 2,
         "median": 1.5, "best": 1, "folds": 2},
        {"shape": "7+7", "strategy": "tail", "metric": "gib_vs_krr", "worst": 1.0000000000002,
         "median": None, "best": 0.9483326993787244, "folds": 2},
    ]
    out = json.loads(render_folds_json([fold], summary))
    f = out["folds"][0]
    assert (f["cores"], f["oom_vs_krr"], f["gib_vs_krr"], f["cores_vs_krr"]) == (
        12.3, None, 0.9483, 1.0154)
    assert [(s["worst"], s["median"], s["best"]) for s in out["summary"]] == [
        (8.616, 8.5875, 8.559), (0.3, 0.009116, 0.0), (2, 1.5, 1), (1.0, None, 0.9483)]
