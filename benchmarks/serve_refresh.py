"""One refresh of ``quotatune serve --store DIR`` as its own process, for the fleet benchmark:
the recommendations and findings the exporter computes before it swaps its snapshot (the
server itself only answers scrapes from that snapshot).

    python benchmarks/serve_refresh.py STORE
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from quotatune.pipelines.serve import store_source


def main() -> None:
    now = datetime.now(UTC)
    outcome = store_source(Path(sys.argv[1]), None)(now)
    print(f"{len(outcome.recommendations)} recommendation(s), {len(outcome.findings)} "
          f"finding(s)")


if __name__ == "__main__":
    main()
