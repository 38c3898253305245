"""The layer rules of docs/architecture.md, checked from the package's own imports (ast), so
that they stay true: every ``import quotatune…`` in every module, also those inside
functions, is an edge; an edge the rules do not allow fails with the file and line."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "quotatune"

# Which top-level packages each layer may import besides itself.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "rollup": {"model"},
    "sources": {"model", "rollup"},
    "store": {"model", "rollup"},
    "analysis": {"model", "rollup"},
    "render": {"model", "rollup"},
    "pipelines": {"model", "rollup", "sources", "store", "analysis", "render"},
    "cli": {"model", "pipelines", "render"},
}
# Sub-packages whose members share only what lives at their parent's root: a Docker module
# does not reach into the Kubernetes source, a strategy does not reach into the findings.
SIBLINGS = {"sources", "analysis"}
MAX_MODULES_PER_FOLDER = 15
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _edges(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "quotatune":
                for alias in node.names:
                    yield node.lineno, f"quotatune.{alias.name}"
            elif node.module.startswith("quotatune."):
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("quotatune."):
                    yield node.lineno, alias.name


def _violations() -> list[str]:
    out = []
    for path in _modules():
        parts = _name(path).split(".")
        if len(parts) < 2 or parts[1] not in ALLOWED:
            continue  # quotatune/__init__.py and __main__.py
        layer = parts[1]
        for line, target in _edges(path):
            tparts = target.split(".")
            other = tparts[1]
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if other != layer and other not in ALLOWED[layer]:
                out.append(f"{where}: {layer}/ may not import {other}/")
            elif (other == layer and layer in SIBLINGS and len(parts) > 3 and len(tparts) > 3
                  and (PACKAGE / layer / tparts[2]).is_dir() and parts[2] != tparts[2]):
                out.append(f"{where}: {layer}/{parts[2]}/ may not reach into {layer}/{tparts[2]}/")
    return out


def test_every_import_obeys_the_layers() -> None:
    assert _violations() == []


def test_the_rules_catch_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """The checker itself: analysis importing the store is reported with file and line."""
    fake = tmp_path / "quotatune"
    (fake / "analysis").mkdir(parents=True)
    (fake / "analysis" / "bad.py").write_text("import os\nfrom quotatune.store import Store\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "PACKAGE", fake)
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "ROOT", tmp_path)
    assert _violations() == [
        "quotatune/analysis/bad.py:2 imports quotatune.store: analysis/ may not import store/"
    ]


def test_the_model_imports_nothing_above_it() -> None:
    for path in (PACKAGE / "model").rglob("*.py"):
        assert all(t.split(".")[1] == "model" for _, t in _edges(path)), path


def test_no_folder_is_crowded_and_no_module_is_long() -> None:
    """A folder of more than ~15 modules is a sub-package waiting to exist."""
    for folder in {p.parent for p in _modules()}:
        n = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        assert n <= MAX_MODULES_PER_FOLDER, f"{folder.relative_to(ROOT)} has {n} modules"
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_private_name_is_imported_across_modules() -> None:
    """What several modules share is public at their package's root, not a ``_helper``."""
    shared = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("quotatune"):
                shared += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}"
                           for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__")]
    assert shared == []


def test_docstrings_cite_the_repository_map_not_outside_documents() -> None:
    cites = [str(p.relative_to(ROOT)) for p in [*_modules(), *(ROOT / "benchmarks").glob("*.py")]
             if "DESIGN.md" in p.read_text(encoding="utf-8")]
    assert cites == []
    assert (ROOT / "docs" / "architecture.md").is_file()
