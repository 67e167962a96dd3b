"""Centavos to and from the gateways' wire forms, exactly."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CENTAVOS_PER_REAL = 100


def to_reais(centavos: int) -> Decimal:
    return Decimal(centavos).scaleb(-2)


def to_pix_value(centavos: int) -> str:
    """Pix amounts are strings with two decimals: 1990 → "19.90"."""
    return f"{centavos // CENTAVOS_PER_REAL}.{centavos % CENTAVOS_PER_REAL:02d}"


def to_centavos(value: object) -> int:
    """Read 19.9, "19.90" or Decimal("19.9") as 1990; refuse fractions of a centavo."""
    try:
        exact = Decimal(str(value)) * CENTAVOS_PER_REAL
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise ValueError(f"not a whole number of centavos: {value!r}")
    return int(exact)
