"""A damaged store is one line on stderr naming the damaged file, and exit code 2, in every
command that reads it (docs/architecture.md, "The store"): never an internal error, never
"kept changing while being read" for a file that is simply gone, and never a success from
``status`` over a day whose manifest does not parse."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, CliRun, run_cli
from tests.support.store_data import imported_sample

FILES = sorted(str(p) for p in (ROOT / "data" / "sample").glob("*.csv.gz"))[:2]
DAY = "2013-08-05"
COMMANDS: dict[str, list[str]] = {
    "recommend": ["recommend"],
    "status": ["status"],
    "diagnose": ["diagnose"],
    "report": ["report", "--out", "{tmp}/reports"],
    "plan": ["plan", "--node-shape", "4cpu/16Gi"],
    "backtest": ["backtest", "--strategy", "krr"],
    "import": ["import", FILES[0], "--format", "bitbrains"],
    "prune": ["prune", "--keep-days", "36500"],
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return imported_sample(tmp_path_factory.mktemp("damaged") / "store", 2)


def copy_of(pristine: Path, tmp: Path) -> Path:
    root = tmp / "store"
    shutil.copytree(pristine, root)
    return root


def run(command: str, root: Path, tmp: Path) -> CliRun:
    args = [a.replace("{tmp}", str(tmp)) for a in COMMANDS[command]]
    return run_cli(*args, "--store", str(root))


def day_dir(root: Path) -> Path:
    return root / "usage" / f"day={DAY}"


def named(root: Path, what: str) -> Path:
    d = day_dir(root)
    return d / json.loads((d / "manifest.json").read_text())[what]


def assert_one_line(r: CliRun, *, names: Path, says: str) -> None:
    assert r.code == 2, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert str(names) in lines[0] and says in lines[0], lines[0]


def manifest_of(content: str) -> Callable[[Path], Path]:
    def damage(root: Path) -> Path:
        path = day_dir(root) / "manifest.json"
        path.write_text(content)
        return path
    return damage


def rollup_replaced_by_samples(root: Path) -> Path:
    rollup = named(root, "rollup")
    shutil.copyfile(named(root, "data"), rollup)  # a valid Parquet file, other columns
    return rollup


def rollup_replaced_by_other_table(root: Path) -> Path:
    rollup = named(root, "rollup")
    pq.write_table(pa.table({"x": [1, 2]}), rollup)
    return rollup


def rollup_with_a_short_day(root: Path) -> Path:
    """The rollup as written, but its first row's hourly peaks cut to 23 hours."""
    rollup = named(root, "rollup")
    table = pq.read_table(rollup)
    i = table.column_names.index("mem_hour_max")
    hours = table.column(i).to_pylist()
    hours[0] = hours[0][:23]
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(
        hours, type=table.schema.field(i).type)), rollup)
    return rollup


def rollup_removed(root: Path) -> Path:
    rollup = named(root, "rollup")
    rollup.unlink()
    return rollup


CASES = [
    *[("data is a number", manifest_of('{"data": 5}'), c, "damaged manifest")
      for c in COMMANDS],
    *[("manifest is a list", manifest_of("[]"), c, "damaged manifest")
      for c in ("recommend", "status", "report", "import", "prune")],
    *[("manifest leads outside", manifest_of('{"data": "../../../x", "rollup": "../../x"}'),
       c, "must name a file in the day's directory") for c in ("recommend", "status", "import")],
    ("manifest does not parse", manifest_of("{"), "status", "damaged manifest"),
    *[("rollup holds samples", rollup_replaced_by_samples, c, "not a rollup of this store")
      for c in ("recommend", "diagnose", "report", "plan", "backtest")],
    ("rollup holds another table", rollup_replaced_by_other_table, "recommend",
     "not a rollup of this store"),
    *[("rollup day of 23 hours", rollup_with_a_short_day, c, "damaged rollup")
      for c in ("recommend", "report", "plan")],
    *[("rollup missing", rollup_removed, c, "missing store file")
      for c in ("recommend", "status", "backtest")],
]


@pytest.mark.parametrize(("damage", "command"), [(c[1], c[2]) for c in CASES],
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_a_damaged_day_is_one_line_naming_its_file(pristine: Path, tmp_path: Path,
                                                   damage: Callable[[Path], Path],
                                                   command: str):
    root = copy_of(pristine, tmp_path)
    says = next(c[3] for c in CASES if c[1] is damage and c[2] == command)
    path = damage(root)
    assert_one_line(run(command, root, tmp_path), names=path, says=says)


def test_a_damaged_day_is_kept_whole_by_import_and_prune(pristine: Path, tmp_path: Path):
    root = copy_of(pristine, tmp_path)
    manifest_of('{"data": 5}')(root)
    before = sorted(p.name for p in day_dir(root).iterdir())
    for command in ("import", "prune"):
        assert run(command, root, tmp_path).code == 2
    assert sorted(p.name for p in day_dir(root).iterdir()) == before


def test_a_stray_day_directory_is_ignored_by_backtest_and_status(pristine: Path,
                                                                 tmp_path: Path):
    root = copy_of(pristine, tmp_path)
    stray = root / "usage" / "day=2099-99-99"
    shutil.copytree(day_dir(root), stray)
    days = json.loads(run_cli("status", "--store", str(pristine), "-o", "json").stdout)["days"]
    r = run_cli("status", "--store", str(root), "-o", "json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["days"] == days
    r = run("backtest", root, tmp_path)
    assert r.code == 0, r.stderr


def test_status_names_a_damaged_collections_file(pristine: Path, tmp_path: Path):
    root = copy_of(pristine, tmp_path)
    (root / "collections.json").write_text('{"import": "x"}')
    assert_one_line(run("status", root, tmp_path), names=root / "collections.json",
                    says="the entry of 'import' is not a JSON object")
    # A writer replaces the damaged line with its own, so the store heals itself.
    assert run("import", root, tmp_path).code == 0
    assert run("status", root, tmp_path).code == 0
