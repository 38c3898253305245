"""One workload-name inference for every source, following Kubernetes' own name generators."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotatune.model.names import (
    SAFE_ALPHABET,
    cronjob_of_job,
    strip_replicaset_hash,
    workload_from_pod,
)

safe = st.text(alphabet=SAFE_ALPHABET, min_size=5, max_size=5)
# A name whose last word is itself 6-10 generator characters ("a-b22222") is ambiguous by
# construction: its pods look like a Deployment's.  Real names have a vowel there.
word = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z][a-z0-9]{0,8}){0,2}", fullmatch=True).filter(
    lambda w: not re.fullmatch(f"[{SAFE_ALPHABET}0-9]{{5,10}}|[0-9]+", w.rsplit("-", 1)[-1]))


@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("api-server-6b7f5d8c9-wxz2q", "api-server"),  # Deployment
        ("coredns-787d4945fb-l85r5", "coredns"),  # kube-system, real
        ("metrics-server-6f6cdbf67d-v7qzh", "metrics-server"),
        ("backup-29456280-x2k9p", "backup"),  # CronJob -> Job -> pod
        ("kube-proxy-7xz2k", "kube-proxy"),  # DaemonSet
        ("etcd-0", "etcd"),  # StatefulSet ordinals
        ("kafka-broker-12", "kafka-broker"),
        ("nginx-1-deploy", "nginx-1-deploy"),  # not generated
    ],
)
def test_generated_pod_names_give_their_workload(pod: str, workload: str) -> None:
    assert workload_from_pod(pod) == workload


@pytest.mark.parametrize("name", ["api-server", "log-agent", "web-cache", "order-queue",
                                  "postgres", "my-app-v2", "fluentd-abcde"])
def test_words_are_not_mistaken_for_generated_suffixes(name: str) -> None:
    assert workload_from_pod(name) == name
    assert strip_replicaset_hash(name) == name
    assert cronjob_of_job(name) is None


def test_replicaset_hash_uses_the_pod_template_hash_label_when_there_is_one() -> None:
    assert strip_replicaset_hash("web-7d4b9c8f6d") == "web"
    assert strip_replicaset_hash("web-12345678") == "web"  # numeric hashes of old clusters
    assert strip_replicaset_hash("web-5d4b9", "5d4b9") == "web"  # short hash: only the label
    assert strip_replicaset_hash("web-5d4b9") == "web-5d4b9"


def test_cronjob_suffix_is_the_schedule_in_minutes() -> None:
    assert cronjob_of_job("nightly-report-29456280") == "nightly-report"
    assert cronjob_of_job("migrate-12") is None


@given(word, st.text(alphabet=SAFE_ALPHABET, min_size=6, max_size=10), safe)
def test_any_deployment_pod_name_maps_back_to_its_deployment(name: str, hash_: str,
                                                              suffix: str) -> None:
    assert workload_from_pod(f"{name}-{hash_}-{suffix}") == name


@given(word, safe)
def test_any_daemonset_or_job_pod_maps_back_to_its_owner(name: str, suffix: str) -> None:
    assert workload_from_pod(f"{name}-{suffix}") == name


@given(word, st.integers(0, 99_999))
def test_any_statefulset_pod_maps_back_to_its_set(name: str, ordinal: int) -> None:
    assert workload_from_pod(f"{name}-{ordinal}") == name
