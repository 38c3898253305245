"""Profile one quotatune command by CPU time (not wall time, which a shared machine distorts)
and print its hot spots: the project's own functions by cumulative time, then every function
by its own time.

    python benchmarks/profile_cli.py OUT.prof recommend --from FILE.parquet -o json
    python benchmarks/profile_cli.py OUT.prof --show        # print a saved profile again
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import runpy
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def show(path: str, top: int = 25) -> str:
    buf = io.StringIO()
    st = pstats.Stats(path, stream=buf)
    st.sort_stats("cumulative").print_stats(r"quotatune[/\\](?!__main__|cli[/\\]app)", top)
    st.sort_stats("tottime").print_stats(top)
    # Paths relative to the repository or site-packages, so the output names modules.
    text = buf.getvalue().replace(ROOT + os.sep, "")
    return re.sub(r"\S*(?:site-packages|lib/python3\.\d+)/", "", text)


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    if args != ["--show"]:
        sys.argv = ["quotatune", *args]
        prof = cProfile.Profile(time.process_time)
        code = 0
        with open(os.devnull, "w") as devnull:
            stdout, sys.stdout = sys.stdout, devnull
            try:
                prof.runcall(runpy.run_module, "quotatune", run_name="__main__")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdout = stdout
                prof.dump_stats(out)
        if code:
            sys.exit(f"quotatune {' '.join(args)}: exit code {code}")
    print(show(out))


if __name__ == "__main__":
    main()
