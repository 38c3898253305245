"""What a name may hold, and how text from outside is shown."""

from __future__ import annotations

import sys
import unicodedata

import pandas as pd
import pytest

from quotatune.model.chunk import names_as_given
from quotatune.model.errors import InputError
from quotatune.model.nametext import (
    UNSAFE,
    UNSAFE_ASCII,
    UNSAFE_ASCII_IN_TARGET_PART,
    UNSAFE_IN_TARGET_PART,
    check_names,
    first_bad_name,
    name_fault,
    shown,
)

ACTING = ("Cc", "Cf", "Zl", "Zp")  # controls, format characters, line/paragraph separators


def test_every_control_format_and_separator_character_is_unsafe_and_nothing_else() -> None:
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    matched = set(UNSAFE.findall(every))
    acting = {ch for ch in every if unicodedata.category(ch) in ACTING}
    assert acting <= matched
    # Beyond them only code points this Python's Unicode database does not know yet (format
    # characters a newer Unicode added).
    assert {unicodedata.category(ch) for ch in matched - acting} <= {"Cn"}


def test_the_ascii_classes_refuse_what_the_whole_ones_refuse_among_ascii() -> None:
    ascii_ = [chr(c) for c in range(128)]
    for whole, narrow in ((UNSAFE, UNSAFE_ASCII),
                          (UNSAFE_IN_TARGET_PART, UNSAFE_ASCII_IN_TARGET_PART)):
        assert [ch for ch in ascii_ if whole.match(ch)] == \
            [ch for ch in ascii_ if narrow.match(ch)]


@pytest.mark.parametrize("column", ["namespace", "workload", "pod", "container", "node"])
def test_a_chunks_names_are_taken_as_given_only_when_validation_would_take_them(
        column: str) -> None:
    """The compiled pass's check, on ASCII names and on names in any script."""
    for names in (["web", "api"], ["café", "日本語"]):
        assert names_as_given(pd.Index(names), column)
        for bad in ("x\x1b[2J", "pay\u202egnp.exe", "a\U000e0041"):
            assert not names_as_given(pd.Index([*names, bad]), column)
        slash = names_as_given(pd.Index([*names, "a/b"]), column)
        assert slash == (column in ("pod", "node"))


@pytest.mark.parametrize("text, seen", [
    ("pay\u202egnp.exe", "pay\\u202egnp.exe"),
    ("red\x1b[31m", "red\\x1b[31m"),
    ("a\u200bpi", "a\\u200bpi"),
    ("csi\x9b", "csi\\x9b"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("line\u2028break", "line\\u2028break"),
])
def test_shown_writes_what_would_act_on_the_text_as_its_escape(text: str, seen: str) -> None:
    assert shown(text) == seen


def test_shown_leaves_names_in_any_script_as_they_are() -> None:
    for text in ("web-7d4b9c8f6d-x2k9p", "café", "日本語", "שלום", "ns/web/app", "a b"):
        assert shown(text) is text


def test_shown_keeps_what_it_is_told_to() -> None:
    assert shown("one\ttwo\nthree\x1b", keep="\t\n") == "one\ttwo\nthree\\x1b"


def test_a_fault_names_the_character_by_its_escape_and_its_unicode_name() -> None:
    fault = name_fault("pay\u202egnp.exe", "workload")
    assert fault == ("name 'pay\\u202egnp.exe' holds \\u202e (right-to-left override), which "
                     "no platform allows in a name")
    assert "holds \\x1b (a control character)" in str(name_fault("x\x1b[2J", "pod"))


def test_a_slash_is_refused_in_the_parts_of_a_target_only() -> None:
    for column in ("namespace", "workload", "container"):
        assert "holds '/', the separator of ns/workload/container" in str(
            name_fault("web/app", column))
    assert name_fault("web/app", "pod") is None
    assert name_fault("web-app", "workload") is None


@pytest.mark.parametrize("categorical", [False, True])
def test_the_first_bad_name_of_a_column_is_found_by_position(categorical: bool) -> None:
    s = pd.Series(["web", "web", "w\u2067eb", "api\u202e"])
    found = first_bad_name(s.astype("category") if categorical else s, "workload")
    assert found is not None and found[0] == 2 and "\\u2067" in found[1]
    ok = pd.Series(["web", None, "api"])
    assert first_bad_name(ok.astype("category") if categorical else ok, "workload") is None


def test_a_frame_without_row_numbers_is_refused_naming_the_source_and_column() -> None:
    specs = pd.DataFrame({"namespace": ["shop"], "workload": ["web"], "pod": ["web-0"],
                          "container": ["a\u202eb"]})
    with pytest.raises(InputError) as exc:
        check_names(specs, "dump.json")
    assert str(exc.value).startswith("dump.json: column 'container': name 'a\\u202eb' holds")
    check_names(specs.assign(container="app"), "dump.json")
