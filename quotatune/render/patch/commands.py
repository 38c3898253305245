"""``-o patch``: apply-ready changes, in the format of the platform each container runs on."""

from __future__ import annotations

import pandas as pd

from quotatune.model import Recommendation


def render_patch(recs: list[Recommendation], specs: pd.DataFrame | None = None) -> str:
    """Docker containers get ``docker update`` commands and, for compose services, an
    override file; Kubernetes workloads get ``kubectl set resources`` commands and
    strategic-merge patches, with workload kinds and init containers taken from the specs."""
    docker = [r for r in recs if r.platform == "docker"]
    kube = [r for r in recs if r.platform != "docker"]
    parts = []
    if docker:
        from quotatune.render.patch import docker as patch_docker

        parts.append(patch_docker.render_docker_patch(docker))
        if any(r.namespace != patch_docker.STANDALONE for r in docker):
            parts.append(patch_docker.render_compose_override(docker))
    if kube:
        from quotatune.render.patch import kubectl as patch_kubectl

        have_specs = specs is not None and not specs.empty
        kinds = patch_kubectl.kinds_from_specs(specs) if have_specs else {}
        inits = patch_kubectl.init_containers_from_specs(specs) if have_specs else set()
        parts.append(patch_kubectl.render_kubectl_patch(kube, kinds))
        parts.append(patch_kubectl.render_strategic_merge_patch(kube, kinds, inits))
    return "\n".join(parts)
