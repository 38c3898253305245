"""File import: the Bitbrains GWA-T-12 reader on the bundled real sample, canonical CSV and
Parquet, encodings, format detection, and bad or hostile files (one-line InputError only)."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quotatune.model import USAGE_COLUMNS
from quotatune.model.errors import InputError
from quotatune.sources.files import tables as files
from quotatune.sources.registry import IMPORTERS, detect_format, import_files
from quotatune.sources.text import open_text
from tests.conftest import ROOT
from tests.support.contracts import assert_well_formed

SAMPLE = ROOT / "data" / "sample"
BB_HEADER = (
    "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\t"
    "CPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\t"
    "Disk read throughput [KB/s];\tDisk write throughput [KB/s];\t"
    "Network received throughput [KB/s];\tNetwork transmitted throughput [KB/s]"
)


def raw_rows(path: Path) -> list[list[str]]:
    """The data rows of a Bitbrains file, split by hand (independently of the reader)."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert lines[0] == BB_HEADER
    return [line.split(";\t") for line in lines[1:] if line]


def one_line_error(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as exc:
        call(*args)
    message = str(exc.value)
    assert message and "\n" not in message
    return message


# ---------------------------------------------------------------------------- Bitbrains, real


def test_bitbrains_sample_converts_mhz_to_cores_and_kb_to_bytes_exactly() -> None:
    path = SAMPLE / "1.csv.gz"
    rows = raw_rows(path)
    got = files.read_bitbrains(path)
    usage = got.usage
    assert list(usage.columns[: len(USAGE_COLUMNS)]) == USAGE_COLUMNS
    assert len(usage) == len(rows)
    assert set(usage["namespace"]) == {"bitbrains"}
    assert set(usage["workload"]) == {"vm-1"}
    assert set(usage["container"]) == {"vm"}
    for i in (0, 1, 1000, len(rows) - 1):
        t, cores, cap_mhz, use_mhz, _, mem_cap_kb, mem_kb, *_ = rows[i]
        row = usage.iloc[i]
        # The header says [ms]; the values are epoch seconds.
        assert row["timestamp"] == pd.Timestamp(int(t), unit="s", tz="UTC")
        assert row["timestamp"].year == 2013
        assert row["cpu_cores"] == float(use_mhz) / (float(cap_mhz) / float(cores))
        assert row["memory_working_set_bytes"] == float(mem_kb) * 1024
        assert row["cpu_request_cores"] == float(cores)
        assert row["memory_limit_bytes"] == float(mem_cap_kb) * 1024
    assert got.notes == []


def test_bitbrains_cpu_is_cores_not_percent_or_mhz() -> None:
    usage = files.read_bitbrains(SAMPLE / "1.csv.gz").usage
    # A VM cannot use more cores than it was given by much (the trace has some >100 % rows).
    assert (usage["cpu_cores"] <= usage["cpu_request_cores"] * 1.5).mean() > 0.99


def test_bitbrains_rows_with_zero_cores_are_dropped_and_counted() -> None:
    path = SAMPLE / "126.csv.gz"
    rows = raw_rows(path)
    zero = [r for r in rows if r[1].strip() == "0"]
    assert len(zero) == 2149  # a real quirk of VM 126 in August 2013
    got = files.read_bitbrains(path)
    assert len(got.usage) == len(rows) - len(zero)
    assert (got.usage["cpu_request_cores"] > 0).all()
    assert got.notes == ["126.csv.gz: dropped 2149 row(s) with 0 cores or 0 memory"]


# Real rows of VM 82 (Bitbrains GWA-T-12 Rnd, August 2013, lines 4486-4488): the trace repeats
# timestamps where the VM reports 0 cores.
VM82_ZERO_DUPLICATES = [
    "1376649375;\t0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t792.0",
    "1376649375;\t0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t792.0",
    "1376649375;\t0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t0.0;\t792.0",
]


def test_bitbrains_duplicated_timestamps_keep_the_last_row(tmp_path: Path) -> None:
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:7]
    t2 = lines[2].split(";")[0]
    # Row 3's real values again, under row 2's timestamp (irregular sampling repeats stamps).
    repeat = t2 + lines[3][lines[3].index(";"):]
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([*lines, repeat, *VM82_ZERO_DUPLICATES]) + "\n")
    got = files.read_bitbrains(path)
    usage = got.usage
    assert len(usage) == 6
    assert usage["timestamp"].is_monotonic_increasing and usage["timestamp"].is_unique
    mem3 = float(lines[3].split(";\t")[6]) * 1024
    at_t2 = usage[usage["timestamp"] == pd.Timestamp(int(t2), unit="s", tz="UTC")]
    assert at_t2["memory_working_set_bytes"].tolist() == [mem3]
    assert got.notes == [
        "dup.csv: dropped 3 row(s) with 0 cores or 0 memory",
        "dup.csv: dropped 1 duplicated timestamp(s)",
    ]


def test_bitbrains_file_of_only_zero_core_rows_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "82.csv"
    path.write_text(BB_HEADER + "\n" + "\n".join(VM82_ZERO_DUPLICATES) + "\n")
    assert "no usable samples" in one_line_error(files.read_bitbrains, path)


@pytest.mark.parametrize(
    ("value", "shown"), [("NaN", "'NaN'"), ("Infinity", "'Infinity'"), ("-12.5", "'-12.5'"),
                         ("abc", "'abc'"), ("", "''")]
)
def test_bitbrains_dirty_values_name_column_and_row(
    tmp_path: Path, value: str, shown: str
) -> None:
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:5]
    fields = lines[3].split(";\t")
    fields[3] = value  # CPU usage [MHZ]
    lines[3] = ";\t".join(fields)
    path = tmp_path / "dirty.csv"
    path.write_text("\n".join(lines) + "\n")
    message = one_line_error(files.read_bitbrains, path)
    assert message.startswith(f"{path}: column 'CPU usage [MHZ]', row 4: ")
    assert shown in message


def test_bitbrains_rows_are_named_by_their_line_after_blank_lines(tmp_path: Path) -> None:
    """The parser skips blank lines without counting them: the bad row (the parser's row 4)
    is named by the line an editor shows, 6."""
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:5]
    fields = lines[3].split(";\t")
    fields[3] = "-12.5"
    lines[3] = ";\t".join(fields)
    path = tmp_path / "blank.csv"
    path.write_text("\n".join([*lines[:2], "", "  ", *lines[2:]]) + "\n")
    message = one_line_error(files.read_bitbrains, path)
    assert message.startswith(f"{path}: column 'CPU usage [MHZ]', row 6: ")


def test_bitbrains_time_out_of_range_is_named_by_its_line_after_dropped_rows(
        tmp_path: Path) -> None:
    """Rows with 0 cores are dropped and the rest sorted by time before the samples are
    checked: the bad time (line 2) is still named by its own line, not by its place among
    the kept rows (last, once sorted)."""
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:6]
    fields = lines[4].split(";\t")
    fields[0] = "99999999999"  # epoch seconds past 2262: no time pandas can hold
    bad = ";\t".join(fields)
    path = tmp_path / "late.csv"
    path.write_text("\n".join([lines[0], bad, *VM82_ZERO_DUPLICATES[:2], *lines[1:4]])
                    + "\n")
    message = one_line_error(files.read_bitbrains, path)
    assert message.startswith(f"{path}: column 'timestamp', row 2: "), message


def test_bitbrains_rows_ending_in_a_separator_read_as_the_plain_rows(tmp_path: Path) -> None:
    """A trailing ";" gives each row one field more than the header: the values must stay
    under their own columns (not shift onto the next one), and a bad row is still named by
    its line."""
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:6]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain, trailing = tmp_path / "a" / "1.csv", tmp_path / "b" / "1.csv"
    plain.write_text("\n".join(lines) + "\n")
    trailing.write_text("\n".join([lines[0], *(f"{x};" for x in lines[1:])]) + "\n")
    pd.testing.assert_frame_equal(files.read_bitbrains(trailing).usage,
                                  files.read_bitbrains(plain).usage)
    fields = lines[3].split(";\t")
    fields[0] = ""  # no timestamp
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], *(f"{x};" for x in [*lines[1:3], ";\t".join(fields)])])
                   + "\n")
    message = one_line_error(files.read_bitbrains, bad)
    assert message.startswith(f"{bad}: column 'Timestamp [ms]', row 4: "), message


def test_bitbrains_rows_that_end_in_a_separator_only_further_down_read_as_the_plain_rows(
        tmp_path: Path) -> None:
    """A file whose rows start ending in ";" past its first lines (two exports joined) reads
    as the same rows without it; a row further down with a real extra value is still refused
    in one line."""
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:22]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain, mixed = tmp_path / "a" / "1.csv", tmp_path / "b" / "1.csv"
    plain.write_text("\r\n".join(lines) + "\r\n")
    mixed.write_text("\r\n".join([*lines[:18], *(f"{x};\t" for x in lines[18:])]) + "\r\n")
    pd.testing.assert_frame_equal(files.read_bitbrains(mixed).usage,
                                  files.read_bitbrains(plain).usage)
    wide = tmp_path / "wide.csv"
    wide.write_text("\n".join([*lines[:18], *(f"{x};\t7" for x in lines[18:])]) + "\n")
    message = one_line_error(files.read_bitbrains, wide)
    assert message.startswith(f"{wide}: not a Bitbrains trace ("), message


def test_bitbrains_line_of_only_a_separator_is_a_bad_row_named_by_its_line(
        tmp_path: Path) -> None:
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:4]
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(f"{x};" for x in [*lines[:2], "", *lines[2:]]) + "\n")
    message = one_line_error(files.read_bitbrains, path)
    assert message.startswith(f"{path}: column 'Timestamp [ms]', row 3: "), message


def test_bitbrains_rows_with_more_values_than_the_header_are_refused(tmp_path: Path) -> None:
    """pandas would drop the values past the header's columns without a word."""
    lines = gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()).decode().splitlines()[:4]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join([lines[0], *(f"{x};\t7" for x in lines[1:])]) + "\n")
    message = one_line_error(files.read_bitbrains, path)
    assert message == f"{path}: not a Bitbrains trace (its rows have more values than its header)"


# --------------------------------------------------------------------- canonical CSV/Parquet


@pytest.fixture(scope="module")
def sample_usage() -> pd.DataFrame:
    return import_files([SAMPLE / "1.csv.gz", SAMPLE / "126.csv.gz"], "bitbrains").usage


def test_canonical_csv_round_trips_real_data_exactly(
    sample_usage: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "usage.csv"
    sample_usage.to_csv(path, index=False)
    assert detect_format(path) == "canonical"
    back = import_files([path]).usage
    pd.testing.assert_frame_equal(back, sample_usage, check_exact=True)


def test_canonical_parquet_round_trips_real_data_exactly(
    sample_usage: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "usage.parquet"
    sample_usage.to_parquet(path, index=False)
    assert detect_format(path) == "canonical"
    back = import_files([path]).usage
    pd.testing.assert_frame_equal(back, sample_usage, check_exact=True)


CANONICAL = (
    "timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes\n"
    "2026-11-20T10:00:00Z,shop,,web-7d4b9c8f6d-x2k9p,app,0.25,134217728\n"
    "1763633100,shop,,web-7d4b9c8f6d-x2k9p,app,0.5,134217728\n"
    "2026-11-20T10:00:00+01:00,shop,web,,app,1,268435456\n"
)


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("u8.csv", lambda t: t.encode("utf-8")),
        ("bom.csv", lambda t: t.encode("utf-8-sig")),
        ("u16.csv", lambda t: t.encode("utf-16")),  # with its BOM, as Windows tools write it
        ("u16be.csv", lambda t: b"\xfe\xff" + t.encode("utf-16-be")),
        ("u8.csv.gz", lambda t: gzip.compress(t.encode())),
        ("u16.csv.gz", lambda t: gzip.compress(t.encode("utf-16"))),
    ],
)
def test_canonical_csv_reads_the_same_in_every_encoding(tmp_path: Path, name, encode) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(encode(CANONICAL))
    assert detect_format(path) == "canonical"
    usage = import_files([path]).usage
    assert usage["workload"].tolist() == ["web", "web", "web"]
    assert usage["cpu_cores"].tolist() == [0.25, 0.5, 1.0]
    assert usage["timestamp"].tolist() == [
        pd.Timestamp("2026-11-20T10:00:00Z"),
        pd.Timestamp("2025-11-20T10:05:00Z"),
        pd.Timestamp("2026-11-20T09:00:00Z"),
    ]


def test_bitbrains_gzip_and_plain_read_the_same(tmp_path: Path) -> None:
    plain = tmp_path / "126.csv"
    plain.write_bytes(gzip.decompress((SAMPLE / "126.csv.gz").read_bytes()))
    assert detect_format(plain) == "bitbrains"
    a = files.read_bitbrains(plain).usage
    b = files.read_bitbrains(SAMPLE / "126.csv.gz").usage
    # Same VM name: the .csv/.gz suffixes are not part of it.
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("NaN", "column 'cpu_cores', row 3: not a number: 'NaN'"),
        ("", "column 'cpu_cores', row 3: missing value"),
        ("inf", "column 'cpu_cores', row 3: negative, infinite or implausibly large value inf"),
        ("-0.5", "column 'cpu_cores', row 3: negative, infinite or implausibly large value -0.5"),
        ("0,5", "not a readable CSV"),  # a decimal comma shifts the columns
        ("half", "column 'cpu_cores', row 3: not a number: 'half'"),
    ],
)
def test_canonical_dirty_values_are_errors_not_silent_values(
    tmp_path: Path, value: str, expect: str
) -> None:
    lines = CANONICAL.splitlines()
    fields = lines[2].split(",")
    fields[5] = value
    lines[2] = ",".join(fields)
    path = tmp_path / "dirty.csv"
    path.write_text("\n".join(lines) + "\n")
    message = one_line_error(import_files, [path])
    assert message.startswith(str(path))
    assert expect in message


def test_names_that_look_like_missing_values_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text(CANONICAL.replace(",app,", ",null,").replace("shop,", "NA,"))
    usage = import_files([path]).usage
    assert set(usage["container"]) == {"null"}
    assert set(usage["namespace"]) == {"NA"}


def test_parquet_with_missing_columns_names_them(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pd.DataFrame({"timestamp": [1], "namespace": ["a"]}).to_parquet(path)
    message = one_line_error(import_files, [path])
    assert "missing column(s) container, cpu_cores, memory_working_set_bytes" in message


# ------------------------------------------------------------------------ detection, errors


def test_detection_picks_each_format_from_content_not_name(tmp_path: Path) -> None:
    bb = tmp_path / "looks-canonical.csv"
    bb.write_bytes(gzip.decompress((SAMPLE / "1.csv.gz").read_bytes()))
    canonical = tmp_path / "trace.txt"
    canonical.write_text(CANONICAL)
    assert detect_format(bb) == "bitbrains"
    assert detect_format(canonical) == "canonical"
    both = import_files([bb, canonical])
    assert set(both.usage["namespace"]) == {"bitbrains", "shop"}


def test_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("region,revenue\neu,12\n")
    message = one_line_error(import_files, [path])
    assert message.startswith(f"{path}: unknown format; pass --format (")
    assert "bitbrains" in message and "canonical" in message
    assert "unknown format 'xml'; use one of" in one_line_error(import_files, [path], "xml")


def test_no_files_is_an_error() -> None:
    assert one_line_error(import_files, []) == "no input files given"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "unknown format" in one_line_error(import_files, [path])
    for fmt in ("canonical", "bitbrains"):
        assert one_line_error(import_files, [path], fmt) == f"{path}: empty file"
    gz = tmp_path / "empty.csv.gz"
    gz.write_bytes(gzip.compress(b""))
    assert one_line_error(import_files, [gz], "canonical") == f"{gz}: empty file"


def test_header_only_file_has_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(CANONICAL.splitlines()[0] + "\n")
    assert one_line_error(import_files, [path]) == f"{path}: no samples"


def test_directory_missing_and_unreadable_paths(tmp_path: Path) -> None:
    assert one_line_error(import_files, [tmp_path]) == f"{tmp_path}: is a directory, not a file"
    missing = tmp_path / "nope.csv"
    assert one_line_error(import_files, [missing]) == f"{missing}: no such file"
    # A symlink loop cannot be read even by root (CI runs as root, so chmod 000 would not do).
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert one_line_error(import_files, [loop], "canonical").startswith(f"{loop}: cannot read: ")
    inside_a_file = tmp_path / "header.csv"
    inside_a_file.write_text("x")
    beneath = inside_a_file / "usage.csv"
    assert one_line_error(import_files, [beneath]).startswith(f"{beneath}: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission(tmp_path: Path) -> None:
    path = tmp_path / "secret.csv"
    path.write_text(CANONICAL)
    path.chmod(0)
    assert "Permission denied" in one_line_error(import_files, [path])


@pytest.mark.parametrize(
    ("name", "data", "expect"),
    [
        ("garbage.bin", bytes(range(256)) * 4, "not UTF-8 or UTF-16 text"),
        ("broken.gz", b"\x1f\x8b\x08\x00garbage", "corrupt gzip data"),
        ("truncated.csv.gz", gzip.compress(CANONICAL.encode())[:30], "corrupt gzip data"),
        ("fake.parquet", b"PAR1garbagePAR1", "not a readable Parquet file"),
        ("text.parquet", CANONICAL.encode(), "not a readable Parquet file"),
    ],
)
def test_binary_garbage_is_one_clear_line(tmp_path: Path, name: str, data: bytes,
                                          expect: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    message = one_line_error(import_files, [path])
    assert message.startswith(str(path))
    assert expect in message


# ----------------------------------------------------------------------------------- fuzzing

FUZZ_DIR = Path(tempfile.mkdtemp(prefix="quotatune-fuzz-"))
CANONICAL_HEADER = CANONICAL.splitlines()[0] + "\n"


def survives_every_reader(data: bytes, suffix: str) -> None:
    """Every registered reader, and detection, gives a frame or a one-line InputError."""
    path = FUZZ_DIR / f"input{suffix}"
    path.write_bytes(data)
    for read in [*IMPORTERS.values(), lambda p: import_files([p])]:
        try:
            result = read(path)
        except InputError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert_well_formed(result)


numberish = st.text(alphabet=list("0123456789.;\t\n-eE+naifNIT:Z ,\""), max_size=300)

# Every example runs every registered reader; 100 each keeps the file under a minute.
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([".csv", ".csv.gz", ".parquet", ".json", ""]))
@example(b"\x1f\x8b", ".gz")
@example(b"\xff\xfe", ".csv")
@example(b"PAR1", ".parquet")
def test_fuzz_random_bytes(data: bytes, suffix: str) -> None:
    survives_every_reader(data, suffix)


@FUZZ
@given(st.one_of(st.text(max_size=300), numberish))
@example("1.0;\t8;\t2000;\t-3;\t0;\t1;\t1\n")
@example("1e20;\t8;\t2000;\t3;\t0;\t1;\t1\n")
def test_fuzz_bitbrains_rows(body: str) -> None:
    survives_every_reader((BB_HEADER + "\n" + body).encode(), ".csv")


@FUZZ
@given(st.one_of(st.text(max_size=300), numberish), st.sampled_from(["utf-8", "utf-16"]))
@example("T4,a,b,c,d,1,1\n", "utf-8")
@example("now,a,b,c,d,1,1\n", "utf-8")
@example("9999-01-01,a,b,c,d,1,1\n", "utf-8")
@example("-Infinity,a,b,c,d,1,1\n", "utf-16")
def test_fuzz_canonical_rows(body: str, encoding: str) -> None:
    survives_every_reader((CANONICAL_HEADER + body).encode(encoding), ".csv")


@FUZZ
@given(
    st.one_of(
        st.lists(st.floats(), min_size=1, max_size=6),
        st.lists(
            st.one_of(st.floats(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
                      st.text(max_size=8), st.none()).map(str),
            min_size=1, max_size=6,
        ),
    )
)
@example([1.0, float("nan")])
@example([float("inf")])
@example([-0.0, -1e-300])
def test_fuzz_parquet_values_never_become_silent_wrong_numbers(values: list) -> None:
    n = len(values)
    df = pd.DataFrame(
        {
            "timestamp": [1.7e9] * n,
            "namespace": ["n"] * n,
            "container": ["c"] * n,
            "cpu_cores": values,
            "memory_working_set_bytes": [1.0] * n,
        }
    )
    path = FUZZ_DIR / "values.parquet"
    df.to_parquet(path)
    try:
        usage = import_files([path]).usage
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        cpu = usage["cpu_cores"].to_numpy()
        assert np.isfinite(cpu).all() and (cpu >= 0).all()
        assert cpu.tolist() == [float(v) for v in values]


def test_a_broken_utf16_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\xff\xfe\x00")  # a UTF-16 byte-order mark, then half a character
    with pytest.raises(InputError, match="not UTF-8 or UTF-16 text"):
        open_text(bad)
