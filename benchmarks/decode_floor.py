"""What a ``quotatune`` process spends before any analysis, as its own process: the CLI's
imports and process settings, then decoding the file with pyarrow exactly as quotatune's
readers ask for it, and nothing else.

    python benchmarks/decode_floor.py parquet FILE.parquet  # every row group, names as dictionaries
    python benchmarks/decode_floor.py csv FILE.csv          # the typed whole-file parse

``bench_from.py`` prints it beside the commands it bounds: a target of 0.2x the baseline
leaves for the analysis only what this floor does not already take.  Prints the rows it
decoded, so the work cannot be skipped.
"""

from __future__ import annotations

import sys

import quotatune.cli.app  # noqa: F401 - the imports every command pays

NAMES = ["namespace", "workload", "pod", "container"]


def parquet(path: str) -> int:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    pf = pq.ParquetFile(path, read_dictionary=[n for n in NAMES if n in schema.names])
    return sum(pf.read_row_groups([i]).num_rows for i in range(pf.num_row_groups))


def csv(path: str) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from quotatune.sources.files.stream import CSV_BLOCK_BYTES

    with open(path, encoding="utf-8") as f:
        header = [c.strip('"') for c in f.readline().strip().split(",")]
    text = pa.dictionary(pa.int32(), pa.string())
    types = {c: text if c in NAMES else pa.timestamp("ns", tz="UTC") if c == "timestamp"
             else pa.float64() for c in header}
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                           convert_options=pacsv.ConvertOptions(
                               column_types=types, null_values=[""],
                               strings_can_be_null=True, quoted_strings_can_be_null=True))
    return table.num_rows


def main() -> None:
    from quotatune.cli.allocator import freeze_startup_objects, keep_freed_memory, ordinary_pages

    # The process settings every command runs with (quotatune.cli.app.main): without them the
    # parse itself ran slower than inside the command it bounds.
    keep_freed_memory()
    ordinary_pages()
    freeze_startup_objects()
    mode, path = sys.argv[1], sys.argv[2]
    print(f"{ {'parquet': parquet, 'csv': csv}[mode](path)} rows decoded")


if __name__ == "__main__":
    main()
