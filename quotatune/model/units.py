"""Exact unit handling: Kubernetes quantities, millicores and MiB.

Quantities are parsed into :class:`decimal.Decimal` so that "0.1" cores is exactly 100m and
"1.5Gi" is exactly 1610612736 bytes; converting to integers always rounds *up*, because a
recommendation that is one millicore or one byte short is the one that gets OOM-killed.
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_CEILING, Context, Decimal, DecimalException
from fractions import Fraction

import numpy as np

from quotatune.model.errors import InputError

MIB = 1 << 20
GIB = 1 << 30

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
# The Kubernetes grammar: <signedNumber><suffix>, suffix binarySI | decimalSI | decimalExponent.
# ASCII digits only: Python's \d would also accept "١" (Arabic-Indic one), which Kubernetes rejects.
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$",
    re.ASCII,
)
# The default decimal context keeps 28 digits and *rounds to nearest*, so "1.00…01" (29+
# digits) times 1000 silently lost its last digit and rounded down.  Exact arithmetic needs an
# unbounded context; the magnitude cap (Kubernetes' own: |q| < 2^63) keeps numbers small.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])
_MAX_MAGNITUDE = Decimal(2**63)


def parse_quantity(text: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity ("250m", "0.5", "512Mi", "1G", "1e3") exactly."""
    if isinstance(text, bool):
        raise InputError(f"not a quantity: {text!r}")
    if isinstance(text, int):
        return _checked(Decimal(text), str(text)[:40])
    if isinstance(text, float):
        if not math.isfinite(text):
            raise InputError(f"not a finite quantity: {text!r}")
        return _checked(Decimal(repr(text)), repr(text))
    s = str(text).strip()
    m = _QUANTITY.match(s)
    if not m:
        raise InputError(f"not a Kubernetes quantity: {text!r}")
    shown = s if len(s) <= 40 else s[:37] + "..."
    exp = m.group("exp")
    # An exponent this long cannot give a quantity below the cap (or above 1e-9999).
    if exp and len(exp.lstrip("eE+-").lstrip("0")) > 4:
        raise InputError(f"quantity out of range: {shown!r}")
    try:
        num = Decimal(m.group("num"))
        if exp:
            value = _EXACT.scaleb(num, Decimal(int(exp[1:])))
        else:
            suffix = m.group("suffix") or ""
            factor = Decimal(_BINARY[suffix]) if suffix in _BINARY else _DECIMAL[suffix]
            value = _EXACT.multiply(num, factor)
    except (DecimalException, OverflowError, ValueError) as exc:
        raise InputError(f"not a Kubernetes quantity: {shown!r}") from exc
    return _checked(value, shown)


def _checked(value: Decimal, shown: str) -> Decimal:
    if not value.is_finite() or _EXACT.abs(value) >= _MAX_MAGNITUDE:
        raise InputError(f"quantity out of range (|q| must be below 2^63): {shown!r}")
    return value


def _ceil_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def cpu_quantity_to_millicores(text: str | int | float) -> int:
    """"250m" -> 250, "0.5" -> 500, "2" -> 2000, "704595n" -> 1 (rounded up)."""
    return _ceil_int(_EXACT.multiply(parse_quantity(text), Decimal(1000)))


def memory_quantity_to_bytes(text: str | int | float) -> int:
    """"512Mi" -> 536870912, "1G" -> 1000000000, "1e3" -> 1000 (fractions rounded up)."""
    return _ceil_int(parse_quantity(text))


def memory_quantity_to_mib(text: str | int | float) -> int:
    return bytes_to_mib_ceil(memory_quantity_to_bytes(text))


def _ceil_float(x: float) -> int:
    # 0.25 * 1000 is 250.00000000000003 in binary floating point; a tolerance far below one
    # unit keeps that at 250 while 250.001 still rounds up to 251.
    return math.ceil(round(x, 6))


# Past 2^33 millicores a double's step exceeds that tolerance, so cores * 1000.0 itself can
# land below the exact product (274877906.99300003 cores gave 274877906993 for
# 274877906993.00003): there the product is taken exactly.
_EXACT_FROM = 2.0**33


def cores_to_millicores_ceil(cores: float) -> int:
    if not math.isfinite(cores):
        raise ValueError(f"not a finite CPU amount: {cores!r}")
    x = cores * 1000.0
    if abs(x) >= _EXACT_FROM:
        return math.ceil(Fraction(cores) * 1000 - Fraction(1, 10**6))
    return _ceil_float(x)


def bytes_to_mib_ceil(nbytes: float) -> int:
    # Integers first: math.isfinite() raises OverflowError on ints beyond float range.
    if isinstance(nbytes, int):
        return -(-nbytes // MIB)
    if not math.isfinite(nbytes):
        raise ValueError(f"not a finite memory amount: {nbytes!r}")
    return _ceil_float(nbytes / MIB)


def format_cpu(millicores: int) -> str:
    """Print millicores the way kubectl does: whole cores as "2", else "250m"."""
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_memory_mib(mib: int) -> str:
    """Print MiB as a binary-suffixed quantity: "512Mi", or "2Gi" when whole GiB."""
    if mib != 0 and mib % 1024 == 0:
        return f"{mib // 1024}Gi"
    return f"{mib}Mi"


def format_cores(millicores: int) -> str:
    """Decimal cores for tools that want a plain number (docker --cpus)."""
    text = format(Decimal(millicores) / 1000, "f")
    # Strip zeros only after a decimal point: "10" must stay "10", not become "1".
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def mib_text(nbytes: float | int | None) -> str:
    """Bytes as a Kubernetes quantity in MiB, rounded up ("640Mi", "2Gi"); "unknown" if absent."""
    if nbytes is None or not math.isfinite(nbytes):
        return "unknown"
    return format_memory_mib(bytes_to_mib_ceil(float(nbytes)))


def ceil_units(values: np.ndarray, unit: str) -> list[int | None]:
    """Round a whole array up to millicores ("cpu", from cores) or MiB ("mem", from bytes)
    exactly as the functions above do one value at a time: vectorised, with the values
    close enough to a whole unit for its rounding tolerance to matter handed to units
    itself.  NaN -> None."""
    v = np.asarray(values, dtype="float64")
    x = v * 1000.0 if unit == "cpu" else v / MIB
    scalar = cores_to_millicores_ceil if unit == "cpu" else bytes_to_mib_ceil
    finite = np.isfinite(x)
    # Integers before the scalar results go in: a float64 cannot hold them past 2^53.
    out = np.ceil(np.where(finite, x, 0.0)).astype("int64")
    near = finite & (np.abs(x - np.rint(np.where(finite, x, 0.0))) < 1e-5)
    for i in np.flatnonzero(near):
        out[i] = scalar(float(v[i]))
    return [n if ok else None for n, ok in zip(out.tolist(), finite.tolist(), strict=True)]
