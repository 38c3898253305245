"""``-o patch``: apply-ready changes, in the format of the platform each container runs on."""

from __future__ import annotations

from quotatune.model import Recommendation


def render_patch(recs: list[Recommendation]) -> str:
    """Docker containers get ``docker update`` commands, the rest ``kubectl`` patches.
    Recommendations without data (status other than ok) are left out: nothing to apply."""
    ready = [r for r in recs if r.status == "ok"]
    docker = [r for r in ready if r.platform == "docker"]
    kube = [r for r in ready if r.platform != "docker"]
    parts = []
    if docker:
        from quotatune.render.patch_docker import render_docker_patch

        parts.append(render_docker_patch(docker))
    if kube:
        from quotatune.render.patch_kubectl import render_kubectl_patch

        parts.append(render_kubectl_patch(kube))
    return "\n".join(parts)
