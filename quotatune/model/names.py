"""Workload names from pod names, as the Kubernetes name generators make them."""

from __future__ import annotations

import re

# Kubernetes generates pod-name suffixes and pod-template hashes from this alphabet only (no
# vowels, no 0/1/3: k8s.io/apimachinery/pkg/util/rand).  Accepting any [a-z0-9]{5} took real
# names apart: "log-agent" -> "log", "web-cache" -> "web".
_K8S = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_HASH = re.compile(rf"^(?P<base>.+?)-(?:{_K8S}{{6,10}}-{_K8S}{{5}}|{_K8S}{{5}}|[0-9]+)$")


def workload_from_pod(pod: str) -> str:
    """Strip ReplicaSet/pod hashes and StatefulSet ordinals: "web-7d4b9c8f6d-x2k9p" -> "web"."""
    m = _POD_HASH.match(pod)
    return m.group("base") if m else pod
