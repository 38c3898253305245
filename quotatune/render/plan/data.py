"""A capacity plan as JSON (everything) or YAML (the ResourceQuota/LimitRange manifests)."""

from __future__ import annotations

import json

from quotatune.model.capacity import CapacityPlan


def render_plan_json(plan: CapacityPlan) -> str:
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_plan_yaml(plan: CapacityPlan) -> str:
    """Ready for ``kubectl apply -f -``: one ResourceQuota (+ LimitRange) per namespace."""
    return plan.quotas_yaml
