"""Exact unit handling: Kubernetes quantities, millicores and MiB.

Quantities are parsed into :class:`decimal.Decimal` so that "0.1" cores is exactly 100m and
"1.5Gi" is exactly 1610612736 bytes; converting to integers always rounds *up*, because a
recommendation that is one millicore or one byte short is the one that gets OOM-killed.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from quotatune.errors import InputError

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
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$"
)


def parse_quantity(text: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity ("250m", "0.5", "512Mi", "1G", "1e3") exactly."""
    if isinstance(text, bool):
        raise InputError(f"not a quantity: {text!r}")
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise InputError(f"not a finite quantity: {text!r}")
        return Decimal(repr(text))
    s = str(text).strip()
    m = _QUANTITY.match(s)
    if not m:
        raise InputError(f"not a Kubernetes quantity: {text!r}")
    try:
        num = Decimal(m.group("num"))
        if m.group("exp"):
            return num.scaleb(int(m.group("exp")[1:]))
        suffix = m.group("suffix") or ""
        if suffix in _BINARY:
            return num * _BINARY[suffix]
        return num * _DECIMAL[suffix]
    except (InvalidOperation, OverflowError, ValueError) as exc:
        raise InputError(f"not a Kubernetes quantity: {text!r}") from exc


def _ceil_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def cpu_quantity_to_millicores(text: str | int | float) -> int:
    """"250m" -> 250, "0.5" -> 500, "2" -> 2000, "704595n" -> 1 (rounded up)."""
    return _ceil_int(parse_quantity(text) * 1000)


def memory_quantity_to_bytes(text: str | int | float) -> int:
    """"512Mi" -> 536870912, "1G" -> 1000000000, "1e3" -> 1000 (fractions rounded up)."""
    return _ceil_int(parse_quantity(text))


def memory_quantity_to_mib(text: str | int | float) -> int:
    return bytes_to_mib_ceil(memory_quantity_to_bytes(text))


def _ceil_float(x: float) -> int:
    # 0.25 * 1000 is 250.00000000000003 in binary floating point; a tolerance far below one
    # unit keeps that at 250 while 250.001 still rounds up to 251.
    return math.ceil(round(x, 6))


def cores_to_millicores_ceil(cores: float) -> int:
    if not math.isfinite(cores):
        raise ValueError(f"not a finite CPU amount: {cores!r}")
    return _ceil_float(cores * 1000.0)


def bytes_to_mib_ceil(nbytes: float) -> int:
    if not math.isfinite(nbytes):
        raise ValueError(f"not a finite memory amount: {nbytes!r}")
    if isinstance(nbytes, int):
        return -(-nbytes // MIB)
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
    return format(Decimal(millicores) / 1000, "f").rstrip("0").rstrip(".") or "0"
