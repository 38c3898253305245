"""Kubernetes quantities, millicores and MiB: exact parsing, printing, and rounding up."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from quotatune.model.errors import InputError
from quotatune.model.units import (
    MIB,
    bytes_to_mib_ceil,
    cores_to_millicores_ceil,
    cpu_quantity_to_millicores,
    format_cores,
    format_cpu,
    format_memory_mib,
    memory_quantity_to_bytes,
    memory_quantity_to_mib,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("100m", 100),
        ("0.5", 500),
        ("2", 2000),
        ("+1", 1000),
        (".5", 500),
        ("1.", 1000),
        ("1e3", 1_000_000),
        ("1E-3", 1),
        ("5e+2", 500_000),
        # metrics-server reports CPU in nanocores: 704595n is 0.7m, which must round up to 1m.
        ("704595n", 1),
        ("250000000n", 250),
        ("250000001n", 251),
        ("1500u", 2),
        (" 250m ", 250),
    ],
)
def test_cpu_quantities_parse_to_exact_millicores(text: str, millicores: int) -> None:
    assert cpu_quantity_to_millicores(text) == millicores


@pytest.mark.parametrize(
    ("text", "nbytes", "mib"),
    [
        ("512Mi", 512 * MIB, 512),
        ("1G", 1_000_000_000, 954),  # 953.67 MiB rounds up
        ("1e3", 1000, 1),
        ("1.5Gi", 1_610_612_736, 1536),
        ("24716Ki", 24716 * 1024, 25),  # a kubelet stats value: 24.14 MiB -> 25
        ("128974848", 128974848, 123),
        ("129e6", 129_000_000, 124),
        ("123Mi", 123 * MIB, 123),
        ("1Ki", 1024, 1),
        ("0", 0, 0),
        ("0.5", 1, 1),  # half a byte is a byte
    ],
)
def test_memory_quantities_parse_to_exact_bytes_and_mib(text: str, nbytes: int, mib: int) -> None:
    assert memory_quantity_to_bytes(text) == nbytes
    assert memory_quantity_to_mib(text) == mib


def test_parse_quantity_is_exact_decimal() -> None:
    assert parse_quantity("0.1") == Decimal("0.1")
    assert parse_quantity("1.5Gi") == Decimal(1_610_612_736)
    assert parse_quantity("100m") == Decimal("0.1")
    assert parse_quantity(3) == 3
    assert parse_quantity(0.25) == Decimal("0.25")


def test_more_digits_than_the_default_decimal_context_still_round_up() -> None:
    # 29 significant digits: the default 28-digit context used to round this down to 1000m.
    assert cpu_quantity_to_millicores("1.0000000000000000000000000001") == 1001
    assert memory_quantity_to_bytes("1.0000000000000000000000000001Ki") == 1025
    assert cpu_quantity_to_millicores("0." + "0" * 3000 + "1") == 1


@pytest.mark.parametrize(
    "bad",
    [
        "", " ", "abc", "1.5.5", "NaN", "inf", "-inf", "1e", "1ki", "1K", "1Ki5", "Mi",
        "1_000", "0x10", "1 Mi", "--1", "1e3Mi", "١", "1/2", "m", "e3",
        "1e400", "8Ei", "9" * 5000, "1e999999999999", "1e-99999999",
    ],
)
def test_bad_quantities_are_input_errors_naming_the_text(bad: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_quantity(bad)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(("not a Kubernetes quantity", "quantity out of range"))
    assert len(message) < 120  # a 5000-digit input is shortened, not echoed


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, 1e300, 10**400])
def test_bad_numeric_quantities_are_input_errors(bad: object) -> None:
    with pytest.raises(InputError):
        cpu_quantity_to_millicores(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("millicores", "text"), [(250, "250m"), (2000, "2"), (1500, "1500m"), (0, "0"), (1, "1m")]
)
def test_format_cpu_prints_like_kubectl(millicores: int, text: str) -> None:
    assert format_cpu(millicores) == text


@pytest.mark.parametrize(
    ("mib", "text"), [(512, "512Mi"), (2048, "2Gi"), (1536, "1536Mi"), (0, "0Mi"), (1, "1Mi")]
)
def test_format_memory_prints_binary_suffixes(mib: int, text: str) -> None:
    assert format_memory_mib(mib) == text


@pytest.mark.parametrize(
    ("millicores", "text"),
    [(250, "0.25"), (2000, "2"), (1, "0.001"), (10000, "10"), (20000, "20"), (100, "0.1")],
)
def test_format_cores_prints_plain_numbers(millicores: int, text: str) -> None:
    assert format_cores(millicores) == text


# --------------------------------------------------------------------------------- properties


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_cpu_round_trips_through_its_printed_form(millicores: int) -> None:
    assert cpu_quantity_to_millicores(format_cpu(millicores)) == millicores
    assert cpu_quantity_to_millicores(format_cores(millicores)) == millicores


@given(st.integers(min_value=0, max_value=2**40))
def test_memory_round_trips_through_its_printed_form(mib: int) -> None:
    printed = format_memory_mib(mib)
    assert memory_quantity_to_mib(printed) == mib
    assert memory_quantity_to_bytes(printed) == mib * MIB


# Float noise far below one unit is not "more": 0.1 + 0.2 cores is 300m, not 301m.
_NOISE = 1e-6


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))
@example(0.25)
@example(0.1 + 0.2)
@example(0.0001)
@example(0.2501)
@example(1e-9)
@example(274877906.99300003)  # cores * 1000.0 rounds below the exact product
def test_cores_round_up_never_down(cores: float) -> None:
    m = cores_to_millicores_ceil(cores)
    exact = Fraction(cores) * 1000
    assert m >= exact - Fraction(_NOISE)
    assert m < exact + 1


def test_float_noise_does_not_add_a_unit_but_real_fractions_do() -> None:
    assert cores_to_millicores_ceil(0.25) == 250
    assert cores_to_millicores_ceil(0.1 + 0.2) == 300
    assert cores_to_millicores_ceil(0.2501) == 251
    assert cores_to_millicores_ceil(0.0001) == 1
    assert bytes_to_mib_ceil(MIB * (0.1 + 0.2) * 10) == 3
    assert bytes_to_mib_ceil(MIB + 1) == 2
    assert bytes_to_mib_ceil(float(MIB) + 1) == 2


@given(st.floats(min_value=0, max_value=1e18, allow_nan=False, allow_infinity=False))
@example(float(MIB) * 0.3)
@example(1.0)
def test_float_bytes_round_up_to_mib_never_down(nbytes: float) -> None:
    mib = bytes_to_mib_ceil(nbytes)
    exact = Fraction(nbytes) / MIB
    assert mib >= exact - Fraction(_NOISE)
    assert mib < exact + 1


@given(st.integers(min_value=0, max_value=10**30))
def test_integer_bytes_round_up_to_mib_exactly(nbytes: int) -> None:
    mib = bytes_to_mib_ceil(nbytes)
    assert mib * MIB >= nbytes > (mib - 1) * MIB or (nbytes == 0 and mib == 0)


@given(
    st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False, places=12)
)
def test_parsed_decimals_round_up_to_millicores_exactly(value: Decimal) -> None:
    m = cpu_quantity_to_millicores(str(value))
    assert m >= value * 1000 > m - 1
    assert math.ceil(Fraction(value) * 1000) == m


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused_by_the_converters(bad: float) -> None:
    with pytest.raises(ValueError):
        cores_to_millicores_ceil(bad)
    with pytest.raises(ValueError):
        bytes_to_mib_ceil(bad)


@given(st.text(max_size=60))
@example("1e99999")
@example("9" * 400 + "Ei")
def test_any_text_is_a_quantity_or_an_input_error(text: str) -> None:
    for convert in (parse_quantity, cpu_quantity_to_millicores, memory_quantity_to_mib):
        try:
            convert(text)
        except InputError as exc:
            assert "\n" not in str(exc)


@given(
    st.from_regex(
        r"\A[+-]?([0-9]{1,30}\.?[0-9]{0,30}|\.[0-9]{1,30})"
        r"([eE][+-]?[0-9]{1,6}|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\Z"
    )
)
def test_grammatical_quantities_parse_or_are_out_of_range(text: str) -> None:
    try:
        value = parse_quantity(text)
    except InputError as exc:
        assert "out of range" in str(exc)
    else:
        assert abs(value) < 2**63
        assert cpu_quantity_to_millicores(text) >= value * 1000
        assert memory_quantity_to_bytes(text) >= value
