"""A real Docker Engine for tests: Debian's ``dockerd`` on a private socket and data root.

Import the fixtures into a test module (pytest finds them by name)::

    from tests.support.dockerd import busybox_image, dockerd, run_container  # noqa: F401

(or ``from tests.support import dockerd as support; dockerd = support.dockerd`` to keep ruff's
F811 quiet about fixture arguments named like the import).

API (kept stable; other test modules and benchmarks rely on it):

``dockerd`` (session fixture) -> :class:`Dockerd`
    ``.base_url`` ("unix:///…/docker.sock"), ``.client(timeout=60) -> docker.DockerClient``,
    ``.log_path`` (the daemon's log, started with ``--debug`` so every API call is logged as
    "Calling METHOD /path"), ``.api_calls(since=0) -> list[(method, path)]`` and
    ``.log_size()`` (an offset for ``since``), ``.stop()`` (idempotent).
    Skips only where a daemon truly cannot start here (not root, or ``docker.io`` missing);
    any other start failure is an error that shows the daemon's log.

``busybox_image`` (session fixture) -> str
    Tag of an image made with ``docker import`` (the Engine's ``POST /images/create?fromSrc=-``)
    from a rootfs of Debian's static ``/bin/busybox`` with one symlink per applet, plus
    ``/lib -> usr/lib`` and ``/lib64 -> usr/lib64`` so host libraries can be bind-mounted.

``run_container(client, image, command, *, name=None, mem_limit=None, cpus=None,
labels=None, jdk=False, restart_policy=None, wait=False, timeout=60, **kwargs)``
    -> ``docker.models.containers.Container``.  Detached, ``network_mode="none"`` (the daemon
    has no bridge).  ``command`` is a list or a shell string (run with ``sh -c``).
    ``mem_limit`` is bytes or a docker string ("128m"), with swap off (``memswap_limit`` the
    same), so going over it means an OOM kill; ``cpus`` is cores (NanoCpus).  ``jdk=True``
    bind-mounts the machine's JDK and the libraries it needs read-only; use
    :func:`java_path` for the ``java`` binary inside the container.  ``wait=True`` waits for
    the container to exit (``container.reload()`` done).

``java_home() -> Path | None`` (from ``java`` on PATH), ``java_path() -> str`` and
``jdk_volumes() -> dict`` (the read-only binds ``jdk=True`` adds).

``start_dockerd(root: Path, *, debug=True) -> Dockerd`` / ``stop_dockerd``: for a second,
private daemon (fault tests) and for benchmarks, which are plain scripts.
``build_busybox_image(client, tag=...) -> str`` and ``require_dockerd() -> str | None`` (the
reason a daemon cannot start here, or None) likewise.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DOCKERD = Path("/usr/sbin/dockerd")
BUSYBOX = Path("/bin/busybox")
IMAGE_TAG = "quotatune-test/busybox:latest"
_CALL = re.compile(r'msg="Calling (?P<method>[A-Z]+) (?P<path>[^"\s]+)"')


def require_dockerd() -> str | None:
    """Why a private dockerd cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "dockerd needs root (run the docker tests as root, as CI does)"
    if not DOCKERD.exists():
        return f"{DOCKERD} is missing (Debian package docker.io)"
    if not BUSYBOX.exists():
        return f"{BUSYBOX} is missing (Debian package busybox-static)"
    return None


@dataclass
class Dockerd:
    root: Path
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    _clients: list[Any] = field(default_factory=list)

    def client(self, timeout: int = 60, max_pool_size: int = 64) -> Any:
        import docker

        c = docker.DockerClient(base_url=self.base_url, timeout=timeout,
                                max_pool_size=max_pool_size)
        self._clients.append(c)
        return c

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def api_calls(self, since: int = 0) -> list[tuple[str, str]]:
        """(method, path) of every Engine API call the daemon logged after offset ``since``."""
        with self.log_path.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", "replace")
        return [(m["method"], m["path"]) for m in _CALL.finditer(text)]

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        stop_dockerd(self)


def _log_tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def start_dockerd(root: Path, *, debug: bool = True, timeout: float = 60) -> Dockerd:
    """Start dockerd under ``root`` (keep it short: unix socket paths are limited to 107
    bytes and containerd nests its sockets below the exec root) and wait until it answers."""
    import docker

    root.mkdir(parents=True, exist_ok=True)
    # A restart after the daemon was killed: stop its containerd if it outlived it, and drop
    # the containerd pidfile, whose pid dockerd would otherwise wait on ("containerd is still
    # running") until it gives up.
    _kill_leftover_containerd(root, shims=False)
    (root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)
    sock = root / "docker.sock"
    log_path = root / "dockerd.log"
    args = [
        str(DOCKERD),
        "--host", f"unix://{sock}",
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "dockerd.pid"),
        # No network plumbing: tests need none and must not touch the host's firewall.
        "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
        # Private containerd state under the exec root, so parallel daemons never meet.
        "--storage-driver=overlay2",
        "--log-driver=json-file",
    ]
    if debug:
        args.append("--debug")
    log = log_path.open("ab")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    d = Dockerd(root=root, process=proc, base_url=f"unix://{sock}", log_path=log_path)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"dockerd exited with {proc.returncode} while starting:\n{_log_tail(log_path)}"
            )
        if sock.exists():
            try:
                c = docker.DockerClient(base_url=d.base_url, timeout=5)
                c.ping()
                c.close()
                return d
            except Exception as exc:  # not answering yet
                last = exc
        time.sleep(0.1)
    stop_dockerd(d)
    raise RuntimeError(f"dockerd did not answer within {timeout:.0f} s ({last}):\n"
                       f"{_log_tail(log_path)}")


def stop_dockerd(d: Dockerd, *, remove_containers: bool = True) -> None:
    """Remove containers, stop the daemon (SIGTERM, then SIGKILL) and its containerd."""
    if d.running and remove_containers:
        try:
            import docker

            c = docker.DockerClient(base_url=d.base_url, timeout=30)
            for ctr in c.containers.list(all=True):
                try:
                    ctr.remove(force=True)
                except Exception:
                    pass  # already gone
            c.close()
        except Exception:
            pass  # daemon not answering: the signals below still stop it
    for c in d._clients:
        try:
            c.close()
        except Exception:
            pass
    d._clients.clear()
    if d.running:
        d.process.terminate()
        try:
            d.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.process.kill()
            d.process.wait(timeout=10)
    _kill_leftover_containerd(d.root)
    _unmount_under(d.root)


def _unmount_under(root: Path) -> None:
    # dockerd bind-mounts its data root onto itself; a daemon killed and started again on the
    # same root stacks a second one that the clean shutdown leaves behind.
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    prefix = str(root) + "/"
    points = [ln.split()[4] for ln in lines if len(ln.split()) > 4]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _kill_leftover_containerd(root: Path, *, shims: bool = True) -> None:
    """Stop the containerd (and with ``shims``, its shims) started for this root.

    dockerd stops the containerd it started; when dockerd was killed, that containerd (whose
    command line names our private exec root) is ours to stop.  Shims are kept when the
    daemon is about to be restarted: the new containerd adopts the running containers."""
    marker = str(root / "exec")
    pids = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        cmd = b" ".join(argv).decode(errors="replace")
        name = os.path.basename(argv[0].decode(errors="replace")) if argv else ""
        if marker in cmd and (name == "containerd" or (shims and "containerd-shim" in name)):
            pids.append(int(pid_dir.name))
    for pid in pids:
        try:
            os.kill(pid, 15)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if Path(f"/proc/{p}").exists()]
        time.sleep(0.05)


def _busybox_rootfs_tar() -> bytes:
    buf = io.BytesIO()
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = tarfile.DIRTYPE, mode
            tar.addfile(ti)

        def add_link(name: str, target: str) -> None:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(ti)

        for d in ("bin", "dev", "etc", "proc", "sys", "usr", "usr/lib", "usr/lib64", "root"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_link("lib", "usr/lib")
        add_link("lib64", "usr/lib64")
        data = BUSYBOX.read_bytes()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode = len(data), 0o755
        tar.addfile(ti, io.BytesIO(data))
        for applet in applets:
            if applet != "busybox":
                add_link(f"bin/{applet}", "busybox")
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        ti = tarfile.TarInfo("etc/passwd")
        ti.size, ti.mode = len(passwd), 0o644
        tar.addfile(ti, io.BytesIO(passwd))
    return buf.getvalue()


def build_busybox_image(client: Any, tag: str = IMAGE_TAG) -> str:
    """``docker import`` of a busybox rootfs; returns the tag."""
    repo, _, version = tag.rpartition(":")
    client.api.import_image_from_data(_busybox_rootfs_tar(), repository=repo, tag=version)
    client.images.get(tag)  # raises if the import did not produce the image
    return tag


def java_home() -> Path | None:
    """The machine's JDK, from the ``java`` on PATH (``readlink -f $(which java)``)."""
    java = shutil.which("java")
    if java is None:
        return None
    return Path(os.path.realpath(java)).parent.parent


def java_path() -> str:
    home = java_home()
    if home is None:
        raise RuntimeError("no java on PATH")
    return str(home / "bin" / "java")


def jdk_volumes() -> dict[str, dict[str, str]]:
    """Read-only bind mounts that let the host's JDK run in the busybox image: the JDK (all
    of /usr/lib/jvm, as JDKs link into each other), the C/C++ runtime it links against, the
    dynamic loader's directory and the JDK's configuration under /etc."""
    home = java_home()
    if home is None:
        raise RuntimeError("no java on PATH")
    paths = [home.parent, Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib64")]
    paths += sorted(Path("/etc").glob("java-*"))
    return {str(p): {"bind": str(p), "mode": "ro"} for p in paths if p.exists()}


def run_container(client: Any, image: str, command: list[str] | str, *, name: str | None = None,
                  mem_limit: int | str | None = None, cpus: float | None = None,
                  labels: dict[str, str] | None = None, jdk: bool = False,
                  restart_policy: dict[str, Any] | None = None, wait: bool = False,
                  timeout: float = 60, **kwargs: Any) -> Any:
    """Run a detached container on the private daemon (see module docstring)."""
    if isinstance(command, str):
        command = ["sh", "-c", command]
    opts: dict[str, Any] = {"network_mode": "none", "detach": True, "labels": labels or {}}
    if name is not None:
        opts["name"] = name
    if mem_limit is not None:
        opts["mem_limit"] = mem_limit
        opts["memswap_limit"] = mem_limit  # no swap: over the limit means OOM-killed
    if cpus is not None:
        opts["nano_cpus"] = int(cpus * 1e9)
    if restart_policy is not None:
        opts["restart_policy"] = restart_policy
    if jdk:
        opts["volumes"] = {**jdk_volumes(), **kwargs.pop("volumes", {})}
    opts.update(kwargs)
    ctr = client.containers.run(image, command, **opts)
    if wait:
        ctr.wait(timeout=timeout)
        ctr.reload()
    return ctr


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    reason = require_dockerd()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="qtd-", dir="/tmp"))
    d = start_dockerd(root)
    try:
        yield d
    finally:
        stop_dockerd(d)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_image(dockerd: Dockerd) -> str:
    client = dockerd.client()
    return build_busybox_image(client)
