"""The package never shells out through a shell, evaluates text, or unpickles data.

Read from the source with ``ast`` so that a new module cannot slip past by being untested.
"""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PACKAGE = ROOT / "quotatune"


def _calls() -> list[tuple[str, int, ast.Call]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                out.append((str(path.relative_to(PACKAGE.parent)), node.lineno, node))
    return out


def _name(call: ast.Call) -> str:
    f = call.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def test_no_call_passes_shell_true() -> None:
    bad = [
        f"{p}:{line}"
        for p, line, call in _calls()
        for kw in call.keywords
        if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
    ]
    assert bad == []


def test_no_eval_exec_os_system_or_pickle() -> None:
    banned = {"eval", "exec", "os.system", "os.popen", "pickle.load", "pickle.loads"}
    bad = [f"{p}:{line} {_name(c)}" for p, line, c in _calls() if _name(c) in banned]
    assert bad == []


def test_yaml_is_only_read_safely() -> None:
    unsafe = {"yaml.load", "yaml.unsafe_load"}
    bad = [f"{p}:{line}" for p, line, c in _calls() if _name(c) in unsafe]
    assert bad == []


def test_the_scan_sees_the_whole_package() -> None:
    # Guards the tests above against silently scanning nothing.
    assert len(_calls()) > 100
    assert any(p.endswith("store/history.py") for p, _, _ in _calls())
