"""``quotatune collect docker`` where no daemon answers: one line on stderr, exit 2, and no
password from the host URL in it."""

from __future__ import annotations

from quotatune.cli.collect.docker import parse_filters
from quotatune.pipelines.collect import hide_url_password as redact
from tests.conftest import run_cli


def test_unreachable_daemon_is_one_line_and_exit_2(tmp_path):
    r = run_cli("collect", "docker", "--host", f"unix://{tmp_path}/nothing.sock",
                "--store", str(tmp_path / "s"))
    assert r.code == 2
    assert r.stderr.count("\n") == 1 and "cannot reach the Docker daemon" in r.stderr
    assert "the Docker socket is gone" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "s").exists()  # nothing written for a run that read nothing


def test_password_in_the_host_url_is_never_printed(tmp_path):
    r = run_cli("collect", "docker", "--host", "tcp://bob:hunter2@127.0.0.1:1",
                "--store", str(tmp_path / "s"), env={"DOCKER_HOST": ""})
    assert r.code == 2 and "hunter2" not in r.stderr + r.stdout and "bob:***@" in r.stderr
    r = run_cli("collect", "docker", "--store", str(tmp_path / "s"),
                env={"DOCKER_HOST": "tcp://bob:s3cret@127.0.0.1:1"})
    assert r.code == 2 and "s3cret" not in r.stderr + r.stdout


def test_bad_filter_is_exit_2():
    r = run_cli("collect", "docker", "--filter", "nonsense")
    assert r.code == 2 and "--filter expects key=value" in r.stderr


def test_filters_and_redaction_helpers():
    assert parse_filters(["label=app=web", "label=tier=db", "name=api"]) == {
        "label": ["app=web", "tier=db"], "name": ["api"]}
    assert redact("at ssh://me:pw@h failed", "ssh://me:pw@h") == "at ssh://me:***@h failed"
    assert redact("plain", None) == "plain"
