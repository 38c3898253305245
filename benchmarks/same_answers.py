"""Same answers on a real trace: ``recommend -o json`` through ``--from`` (files streamed into
rollups in memory), through ``import`` + ``--store`` (the store's rollups), and through the
whole-frame analysis (every sample loaded, ``analysis.recommend.recommend``) must be equal.
The bundled sample is checked by a test; this script checks a whole trace directory, e.g.
the Bitbrains month of 500 VMs, and times each path (wall and CPU seconds, peak RSS).

    python benchmarks/same_answers.py TRACE_DIR [--format bitbrains]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import quotatune, run_checked  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("--format", default="bitbrains")
    a = ap.parse_args()
    files = sorted(str(p) for p in a.trace.iterdir() if p.is_file())
    store = Path(tempfile.mkdtemp(prefix="same-answers-"))
    try:
        streamed = run_checked("recommend --from", quotatune(
            "recommend", "--from", *files, "--format", a.format, "-o", "json"))
        imported = run_checked("import", quotatune("import", *files, "--format", a.format,
                                                   "--store", str(store)))
        stored = run_checked("recommend --store", quotatune(
            "recommend", "--store", str(store), "-o", "json"))
    finally:
        shutil.rmtree(store, ignore_errors=True)

    from quotatune.analysis.recommend import recommend
    from quotatune.render.registry import RENDERERS
    from quotatune.sources.registry import import_files

    t0, c0 = time.perf_counter(), time.process_time()
    data = import_files([Path(f) for f in files], a.format)
    whole = json.loads(RENDERERS["json"](recommend(data.usage, data.specs, data.events),
                                         data.specs))
    whole_s, whole_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    a_, b_ = json.loads(streamed.stdout), json.loads(stored.stdout)
    print(f"{len(files)} files, {len(data.usage):,} samples, {len(whole)} recommendations")
    for name, r in (("recommend --from", streamed), ("import", imported),
                    ("recommend --store", stored)):
        print(f"{name:20s} {r.wall_s:7.1f} s wall {r.cpu_s:7.1f} s CPU {r.peak_rss_mib:7.0f} MiB")
    print(f"{'whole frame (lib)':20s} {whole_s:7.1f} s wall {whole_cpu:7.1f} s CPU "
          f"{peak:7.0f} MiB (this process)")
    same = a_ == whole and b_ == whole
    print(f"--from == whole frame: {a_ == whole}; --store == whole frame: {b_ == whole}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
