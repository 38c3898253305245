"""Canonical files read in chunks give the frames the whole-file readers give, name the
right row of a bad value in a later chunk, and keep names dictionary-encoded."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quotatune.model.errors import InputError, RowError
from quotatune.sources.files import stream
from quotatune.sources.files.tables import read_canonical_csv
from quotatune.sources.registry import iter_files


@pytest.fixture(params=["parsed whole", "streamed"], autouse=True)
def csv_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both CSV paths: a file up to WHOLE_CSV_BYTES is parsed at once,
    a larger (or compressed) one block by block."""
    if request.param == "streamed":
        monkeypatch.setattr(stream, "WHOLE_CSV_BYTES", -1)
    return str(request.param)


HEADER = "timestamp,namespace,workload,pod,container,cpu_cores,memory_working_set_bytes\n"


def rows(n: int, start: int = 0) -> str:
    return "".join(f"2026-11-20T{(i // 60) % 24:02d}:{i % 60:02d}:00Z,shop,,"
                   f"web-5d8f7c9b6f-x2k9{'qrs'[i % 3]},app,0.{i % 10},{(i + 1) << 20}\n"
                   for i in range(start, start + n))


def test_a_csv_streams_to_the_frame_the_whole_file_reader_gives(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(HEADER + rows(1000))
    chunks = [c.usage for _, _, c in iter_files([path], "canonical")]
    got = pd.concat(chunks, ignore_index=True)
    assert isinstance(got["pod"].dtype, pd.CategoricalDtype)
    want = read_canonical_csv(path).usage
    pd.testing.assert_frame_equal(got.astype({c: str for c in ("namespace", "workload", "pod",
                                                              "container")}), want)
    assert set(got["workload"]) == {"web"}  # derived from the pod name, per distinct pod


def test_a_bad_value_in_a_later_block_is_named_by_its_row(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(stream, "CSV_BLOCK_BYTES", 4096)
    path = tmp_path / "u.csv"
    path.write_text(HEADER + rows(500) + "2026-11-20T10:00:00Z,shop,,p,app,-1,5\n" + rows(50))
    with pytest.raises(InputError, match=r"column 'cpu_cores', row 502: negative"):
        list(iter_files([path], "canonical"))


def test_text_pyarrow_refuses_goes_to_the_tolerant_reader_without_repeating_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CSV_BLOCK_BYTES", 4096)
    path = tmp_path / "u.csv"
    # Epoch seconds beside RFC 3339 text: valid, but not for pyarrow's timestamp parser.
    path.write_text(HEADER + rows(300) + "1795000000,shop,w,p,app,0.5,5\n")
    got = pd.concat([c.usage for _, _, c in iter_files([path], "canonical")])
    assert len(got) == 301
    assert not got.duplicated(["pod", "timestamp"]).any()
    with pytest.raises(InputError, match=r"row 3: not a number: 'x'"):
        bad = tmp_path / "bad.csv"
        bad.write_text(HEADER + rows(1) + "2026-11-20T10:00:00Z,shop,w,p,app,x,5\n")
        list(iter_files([bad], "canonical"))


def test_parquet_is_read_by_row_group_with_rows_counted_across_them(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-20", periods=3000, freq="1min", tz="UTC"),
        "namespace": "shop", "workload": "web", "pod": "web-1", "container": "app",
        "cpu_cores": 0.5, "memory_working_set_bytes": 1e8,
    })
    df.loc[2500, "namespace"] = "  "
    path = tmp_path / "u.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=1000)
    with pytest.raises(InputError, match=r"column 'namespace', row 2500: empty name"):
        list(stream.iter_canonical_parquet(path, rows=1000))
    df.loc[2500, "namespace"] = "shop"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=1000)
    chunks = [c.usage for c in stream.iter_canonical_parquet(path, rows=1000)]
    assert [len(c) for c in chunks] == [1000, 1000, 1000]
    assert all(isinstance(c["namespace"].dtype, pd.CategoricalDtype) for c in chunks)


@pytest.mark.parametrize(("group_rows", "chunks"), [
    (300, [900, 900, 900, 300]),  # small row groups together, never past the chunk size
    (900, [900, 900, 900, 300]),  # a row group near the chunk size goes alone
])
def test_row_groups_are_gathered_up_to_the_chunk_size(
        tmp_path: Path, group_rows: int, chunks: list[int]) -> None:
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-20", periods=3000, freq="1min", tz="UTC"),
        "namespace": "shop", "workload": "web", "pod": "web-1", "container": "app",
        "cpu_cores": 0.5, "memory_working_set_bytes": 1e8,
    })
    path = tmp_path / "u.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path,
                   row_group_size=group_rows)
    got = [c.usage for c in stream.iter_canonical_parquet(path, rows=1000)]
    assert [len(c) for c in got] == chunks
    assert (pd.concat(got, ignore_index=True)["timestamp"] == df["timestamp"]).all()


def test_a_control_character_in_a_dictionary_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(HEADER + rows(3) + '2026-11-20T10:00:00Z,shop,"a\x1bb",p,app,0.5,5\n')
    with pytest.raises(InputError, match=r"column 'workload', row 5: name 'a\\x1bb' holds "
                       r"\\x1b \(a control character\)"):
        list(iter_files([path], "canonical"))


def test_a_gzipped_or_large_csv_streams_the_same_frames_as_one_parsed_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, csv_reader: str) -> None:
    monkeypatch.setattr(stream, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(stream, "CHUNK_ROWS", 256)
    monkeypatch.setattr(stream, "CSV_SLICE_ROWS", 256)
    path = tmp_path / "u.csv"
    path.write_text(HEADER + rows(1000))
    zipped = tmp_path / "u.csv.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    plain = [c.usage for c in stream.iter_canonical_csv(path)]
    assert len(plain) > 1 and sum(len(c) for c in plain) == 1000
    assert all(isinstance(c["pod"].dtype, pd.CategoricalDtype) for c in plain)
    both = [pd.concat([c.usage for c in stream.iter_canonical_csv(p)], ignore_index=True)
            for p in (path, zipped)]
    pd.testing.assert_frame_equal(both[0], both[1])


def test_a_row_group_larger_than_two_chunks_is_read_in_batches(tmp_path: Path) -> None:
    """pyarrow wrote one row group of up to 64 Mi rows before version 15: such a group is
    read a chunk at a time, each chunk a complete frame."""
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-20", periods=2500, freq="1min", tz="UTC"),
        "namespace": "shop", "workload": "web", "pod": "web-1", "container": "app",
        "cpu_cores": 0.5, "memory_working_set_bytes": 1e8,
    })
    path = tmp_path / "u.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=2500)
    chunks = [c.usage for c in stream.iter_canonical_parquet(path, rows=1000)]
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    got = pd.concat(chunks, ignore_index=True)
    assert (got["timestamp"] == df["timestamp"]).all()
    assert all(isinstance(c["pod"].dtype, pd.CategoricalDtype) for c in chunks)


def both_readers_name(path: Path, pattern: str) -> None:
    """The streamed reader and the whole-file one fail on ``path`` with the same message."""
    with pytest.raises(InputError, match=pattern):
        list(iter_files([path], "canonical"))
    with pytest.raises(InputError, match=pattern):
        read_canonical_csv(path)


@pytest.mark.parametrize("blank", ["\n", "\r\n", "   \n", "\t\n"],
                         ids=["empty", "crlf", "spaces", "tab"])
def test_a_bad_row_after_blank_lines_is_named_by_its_line_in_the_file(
        tmp_path: Path, blank: str) -> None:
    """The parsers skip blank lines without counting them; the message names the line an
    editor shows (here line 7: header, two rows, two blank lines, one row, the bad one), in
    plain, gzipped, UTF-16 and gzipped UTF-16 files."""
    text = HEADER + rows(2) + blank + blank + rows(1, 2) + \
        "2026-11-20T10:00:00Z,shop,w,p,app,-1,5\n" + rows(3, 3)
    for name, data in (("u.csv", text.encode()), ("u.csv.gz", gzip.compress(text.encode())),
                       ("u16.csv", text.encode("utf-16")),
                       ("u16.csv.gz", gzip.compress(text.encode("utf-16")))):
        path = tmp_path / name
        path.write_bytes(data)
        both_readers_name(path, r"column 'cpu_cores', row 7: negative")


@pytest.mark.parametrize(("text", "line"), [
    # A form feed alone on a line is a row to the parsers (a bad one): not blank.
    (HEADER + rows(1) + "\x0c\n" + rows(1, 1), 3),
    # A byte-order mark, then a blank line before the header: both skipped by the parsers.
    ("\ufeff\n" + HEADER + rows(1) + "2026-11-20T10:00:00Z,shop,w,p,app,-1,5\n", 4),
    # Bare carriage returns end lines too.
    ((HEADER + rows(1) + "\n" + "2026-11-20T10:00:00Z,shop,w,p,app,-1,5\n").replace(
        "\n", "\r"), 4),
], ids=["form-feed", "bom-then-blank", "bare-cr"])
def test_lines_are_counted_as_the_parsers_count_them(tmp_path: Path, text: str,
                                                     line: int) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(text.encode())
    with pytest.raises(InputError, match=rf", row {line}: "):
        list(iter_files([path], "canonical"))


def test_a_bad_row_after_a_quoted_line_break_is_named_by_its_line_in_the_file(
        tmp_path: Path) -> None:
    """A quoted value may run over two lines (here the platform of row 3, lines 3-4): the
    bad row after it is row 5 to the parsers but starts on line 6 of the file."""
    text = (HEADER.replace("\n", ",platform\n")
            + "2026-11-20T00:00:00Z,shop,w,p,app,0.1,5,linux\n"
            + '2026-11-20T00:01:00Z,shop,w,p,app,0.1,5,"linux\namd64"\n'
            + "2026-11-20T00:02:00Z,shop,w,p,app,0.1,5,linux\n"
            + "2026-11-20T00:03:00Z,shop,w,p,app,-1,5,linux\n")
    for name, data in (("u.csv", text.encode()), ("u.csv.gz", gzip.compress(text.encode()))):
        path = tmp_path / name
        path.write_bytes(data)
        both_readers_name(path, r"column 'cpu_cores', row 6: negative")


@pytest.mark.parametrize(("text", "line"), [
    # A line of only "" is a row of one empty value to the parsers (a bad one), not blank.
    (HEADER + rows(1) + '""\n' + rows(1, 1), 3),
    # A value longer than Python's csv module reads by default does not lose the count.
    (HEADER + "\n\n" + rows(1).replace(",app,", "," + "x" * 200_000 + ",")
     + "2026-11-20T10:00:00Z,shop,w,p,app,-1,5\n", 5),
], ids=["quoted-empty-line", "long-value"])
def test_records_are_told_apart_from_blank_lines_as_the_parsers_tell_them(
        tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(text.encode())
    both_readers_name(path, rf", row {line}: ")


def test_a_row_error_survives_pickling_with_its_fields() -> None:
    """It crosses process boundaries (a pool, a multiprocessing queue) like any error."""
    err = RowError("u.csv", "cpu_cores", 8, "negative")
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.row, back.at_row(10).row) == (str(err), 8, 10)


def _mapped_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of ``path`` (its pages the reader touched
    through a mapping, as /proc/self/smaps counts them)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


def test_a_parquet_file_is_mapped_a_chunk_at_a_time(tmp_path: Path) -> None:
    """The reader maps the file for the decoder, one chunk's mapping at a time: the pages
    it touched do not stay resident as the file is read (a mapping of the whole file
    would end holding all of it)."""
    rng = np.random.default_rng(7)
    n = 400_000
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-20", periods=n, freq="1s", tz="UTC"),
        "namespace": "shop", "workload": "web", "pod": "web-1", "container": "app",
        "cpu_cores": rng.random(n), "memory_working_set_bytes": rng.random(n) * 1e9,
    })
    path = tmp_path / "u.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path,
                   row_group_size=20_000, compression="none")
    file_kib = path.stat().st_size // 1024
    seen = []
    for chunk in stream.iter_canonical_parquet(path, rows=20_000):
        assert len(chunk.usage) == 20_000
        seen.append(_mapped_kib(path))
    assert len(seen) == 20 and file_kib > 8_000
    assert max(seen) < file_kib / 4
    assert _mapped_kib(path) == 0


@pytest.mark.parametrize("change", ["replaced", "removed"])
def test_a_parquet_file_replaced_or_removed_while_read_is_read_whole_as_it_was(
        tmp_path: Path, change: str) -> None:
    """A new export renamed over the file (or the file removed) between two chunks: the
    rest of the chunks still come from the file as it was opened, never from the new one."""
    def export(path: Path, cpu: float, rows: int) -> Path:
        pq.write_table(pa.Table.from_pandas(pd.DataFrame({
            "timestamp": pd.date_range("2026-11-20", periods=rows, freq="1s", tz="UTC"),
            "namespace": "shop", "workload": "web", "pod": "web-1", "container": "app",
            "cpu_cores": cpu, "memory_working_set_bytes": 1e8,
        }), preserve_index=False), path, row_group_size=10_000)
        return path

    path = export(tmp_path / "u.parquet", 1.0, 40_000)
    chunks = stream.iter_canonical_parquet(path, rows=10_000)
    seen = [next(chunks).usage["cpu_cores"].unique().tolist()]
    if change == "replaced":
        export(tmp_path / "new.parquet", 2.0, 25_000).replace(path)
    else:
        path.unlink()
    seen += [c.usage["cpu_cores"].unique().tolist() for c in chunks]
    assert seen == [[1.0]] * 4


def test_a_damaged_name_index_is_one_line_naming_the_column(tmp_path: Path) -> None:
    """Parquet's reader hands on a dictionary index past the dictionary (one byte of an
    index run changed on disk); it is refused there, not left to fail deep in the rollup."""
    n = 800
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-11-20", periods=2 * n, freq="1s", tz="UTC"),
        "namespace": ["x"] * n + ["y"] * n, "workload": "w", "pod": "p", "container": "c",
        "cpu_cores": 1.0, "memory_working_set_bytes": 1e6})
    path = tmp_path / "u.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="none",
                   write_statistics=False, use_dictionary=["namespace"])
    data = bytearray(path.read_bytes())
    run = bytes([0xC0, 0x0C, 0x01])  # RLE: 1,600 / 2 = 800 times index 1 ("y"), 1 byte wide
    assert data.count(run) == 1
    data[data.find(run) + 2] = 0x05
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"u\.parquet: column 'namespace': a name's index is "
                                         r"past the file's 2 names \(a damaged file\)"):
        list(stream.iter_canonical_parquet(path))
