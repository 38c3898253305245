"""Workload names from the names Kubernetes generates — the one place every source asks.

The generators (kube-controller-manager) name things thus:

* a Deployment's ReplicaSet is ``<deployment>-<pod-template-hash>``: the hash is a uint32
  written in decimal and then mapped onto the "safe" alphabet below, so it has up to 10
  characters from it (plain digits on clusters older than 1.8);
* a pod of a ReplicaSet, DaemonSet, Job or ReplicationController is ``<owner>-<5 characters>``
  from that alphabet (``utilrand.String(5)``);
* a CronJob's Job is ``<cronjob>-<scheduled time in minutes since the epoch>`` (8 digits
  until the 22nd century), its pods ``<job>-<5 characters>``;
* a StatefulSet's pod is ``<statefulset>-<ordinal>``.

The safe alphabet has no vowels and no 0, 1, 3 (k8s.io/apimachinery/pkg/util/rand), which is
what tells a generated suffix from a word: ``log-agent`` and ``api-server`` are names, not
``log`` and ``api`` with a suffix.
"""

from __future__ import annotations

import re

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_S = f"[{SAFE_ALPHABET}]"
# A template hash shorter than 6 characters is rare (hashes below 100,000) and would make any
# short consonant word look generated, so it is not stripped without the pod-template-hash label.
_HASH = rf"(?:{_S}{{6,10}}|[0-9]{{6,10}})"
_REPLICASET = re.compile(rf"^(?P<base>.+)-{_HASH}$")
_CRON_JOB = re.compile(r"^(?P<base>.+)-[0-9]{8,}$")
_POD_OF_REPLICASET = re.compile(rf"^(?P<base>.+)-{_HASH}-{_S}{{5}}$")
_POD_OF_CRON_JOB = re.compile(rf"^(?P<base>.+)-[0-9]{{8,}}-{_S}{{5}}$")
_POD_OF_CONTROLLER = re.compile(rf"^(?P<base>.+)-{_S}{{5}}$")
_POD_OF_STATEFULSET = re.compile(r"^(?P<base>.+)-(?:0|[1-9][0-9]{0,5})$")


def strip_replicaset_hash(replicaset: str, template_hash: str | None = None) -> str:
    """The Deployment of a ReplicaSet: "web-7d4b9c8f6d" -> "web"; a name without a hash is
    returned unchanged.  With the pod's ``pod-template-hash`` label the answer is exact."""
    if template_hash and replicaset.endswith("-" + template_hash):
        return replicaset[: -len(template_hash) - 1]
    m = _REPLICASET.match(replicaset)
    return m.group("base") if m else replicaset


def cronjob_of_job(job: str) -> str | None:
    """The CronJob that made a Job ("backup-29456280" -> "backup"), or None."""
    m = _CRON_JOB.match(job)
    return m.group("base") if m else None


def workload_from_pod(pod: str) -> str:
    """The workload of a pod known only by name: "web-7d4b9c8f6d-x2k9p" -> "web",
    "backup-29456280-x2k9p" -> "backup", "fluentd-8xkqz" -> "fluentd", "db-0" -> "db";
    anything else is its own workload."""
    for pattern in (_POD_OF_CRON_JOB, _POD_OF_REPLICASET, _POD_OF_CONTROLLER,
                    _POD_OF_STATEFULSET):
        m = pattern.match(pod)
        if m:
            return m.group("base")
    return pod
